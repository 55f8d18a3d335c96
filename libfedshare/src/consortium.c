/* Consortium members from the `member` lines of a configuration file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "app_internal.h"
#include "fedshare/consortium.h"
#include "fs_codec.h"

#define CRED_MAX 16

typedef struct member {
    uint8_t key[32];
    char name[FEDSHARE_NAME_MAX + 1];
    char org[FEDSHARE_NAME_MAX + 1];
    uint32_t roles;
    size_t ncred;
    char cred[CRED_MAX][FEDSHARE_NAME_MAX + 1];
} member;

struct fedshare_consortium {
    size_t n;
    member m[FEDSHARE_MEMBERS_MAX];
};

static int hexval(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int parse_hex32(const char *s, size_t len, uint8_t out[32]) {
    if (len != 64)
        return -1;
    for (size_t i = 0; i < 32; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

/* A name, organisation or credential: 1..64 of [A-Za-z0-9._:-]. */
static int copy_word(char *dst, const char *s, size_t len) {
    if (!len || len > FEDSHARE_NAME_MAX)
        return -1;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == ':'))
            return -1;
    }
    memcpy(dst, s, len);
    dst[len] = 0;
    return 0;
}

static int role_bit(const char *s, size_t len) {
    static const struct {
        const char *name;
        uint32_t bit;
    } roles[] = {{"provider", FEDSHARE_ROLE_PROVIDER},
                 {"aggregator", FEDSHARE_ROLE_AGGREGATOR},
                 {"keyholder", FEDSHARE_ROLE_KEYHOLDER},
                 {"publisher", FEDSHARE_ROLE_PUBLISHER},
                 {"regulator", FEDSHARE_ROLE_REGULATOR}};
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (strlen(roles[i].name) == len && !memcmp(roles[i].name, s, len))
            return (int)roles[i].bit;
    return -1;
}

/* Split "a,b,c" and call f on each part; -1 if any part fails. */
static int parse_member_attr(member *m, const char *v, size_t vlen, int which) {
    size_t start = 0;
    if (!vlen)
        return -1;
    for (size_t i = 0; i <= vlen; i++) {
        if (i < vlen && v[i] != ',')
            continue;
        const char *part = v + start;
        size_t plen = i - start;
        if (!plen)
            return -1;
        if (which == 0) {
            int b = role_bit(part, plen);
            if (b < 0 || (m->roles & (uint32_t)b))
                return -1;
            m->roles |= (uint32_t)b;
        } else {
            if (m->ncred == CRED_MAX || copy_word(m->cred[m->ncred], part, plen))
                return -1;
            for (size_t j = 0; j < m->ncred; j++)
                if (!strcmp(m->cred[j], m->cred[m->ncred]))
                    return -1;
            m->ncred++;
        }
        start = i + 1;
    }
    return 0;
}

static int parse_member(fedshare_consortium *c, const char **tok, const size_t *tlen, size_t nt) {
    if (nt < 3 || c->n == FEDSHARE_MEMBERS_MAX)
        return -1;
    member *m = &c->m[c->n];
    memset(m, 0, sizeof *m);
    if (copy_word(m->name, tok[1], tlen[1]) || parse_hex32(tok[2], tlen[2], m->key))
        return -1;
    if (crypto_core_ed25519_is_valid_point(m->key) != 1)
        return -1;
    int seen_roles = 0, seen_org = 0, seen_cred = 0;
    for (size_t i = 3; i < nt; i++) {
        const char *eq = memchr(tok[i], '=', tlen[i]);
        if (!eq)
            return -1;
        size_t klen = (size_t)(eq - tok[i]), vlen = tlen[i] - klen - 1;
        if (klen == 5 && !memcmp(tok[i], "roles", 5) && !seen_roles++) {
            if (parse_member_attr(m, eq + 1, vlen, 0))
                return -1;
        } else if (klen == 3 && !memcmp(tok[i], "org", 3) && !seen_org++) {
            if (copy_word(m->org, eq + 1, vlen))
                return -1;
        } else if (klen == 11 && !memcmp(tok[i], "credentials", 11) && !seen_cred++) {
            if (parse_member_attr(m, eq + 1, vlen, 1))
                return -1;
        } else
            return -1;
    }
    for (size_t j = 0; j < c->n; j++)
        if (!strcmp(c->m[j].name, m->name) || !memcmp(c->m[j].key, m->key, 32))
            return -1;
    c->n++;
    return 0;
}

int fedshare_consortium_parse(fedshare_consortium **out, const char *text, size_t len,
                              uint32_t *err_line) {
    if (err_line)
        *err_line = 0;
    if (!out || (!text && len) || len > (1u << 20))
        return FEDSHARE_E_INVALID;
    *out = NULL;
    if (sodium_init() < 0)
        return FEDSHARE_E_CRYPTO;
    fedshare_consortium *c = calloc(1, sizeof *c);
    if (!c)
        return FEDSHARE_E_NOMEM;
    uint32_t line = 0;
    size_t pos = 0;
    while (pos < len) {
        size_t end = pos;
        while (end < len && text[end] != '\n')
            end++;
        line++;
        size_t stop = end;
        const char *hash = memchr(text + pos, '#', end - pos);
        if (hash)
            stop = (size_t)(hash - text);
        const char *tok[24];
        size_t tlen[24], nt = 0, i = pos;
        int toolong = 0;
        while (i < stop) {
            while (i < stop && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r'))
                i++;
            if (i >= stop)
                break;
            size_t s = i;
            while (i < stop && text[i] != ' ' && text[i] != '\t' && text[i] != '\r')
                i++;
            if (nt == 24) {
                toolong = 1;
                break;
            }
            tok[nt] = text + s;
            tlen[nt++] = i - s;
        }
        if (nt && tlen[0] == 6 && !memcmp(tok[0], "member", 6)) {
            if (toolong || parse_member(c, tok, tlen, nt)) {
                if (err_line)
                    *err_line = line;
                free(c);
                return FEDSHARE_E_CONFIG;
            }
        }
        pos = end + 1;
    }
    if (!c->n) {
        free(c);
        return FEDSHARE_E_CONFIG;
    }
    *out = c;
    return FEDSHARE_OK;
}

int fs_read_config(const char *path, char **buf, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return FEDSHARE_E_IO;
    *buf = malloc((1u << 20) + 1);
    if (!*buf) {
        fclose(f);
        return FEDSHARE_E_NOMEM;
    }
    *len = fread(*buf, 1, (1u << 20) + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || *len > (1u << 20)) {
        free(*buf);
        *buf = NULL;
        return bad ? FEDSHARE_E_IO : FEDSHARE_E_CONFIG;
    }
    return FEDSHARE_OK;
}

int fedshare_consortium_load(fedshare_consortium **out, const char *path, uint32_t *err_line) {
    if (!out || !path)
        return FEDSHARE_E_INVALID;
    char *buf;
    size_t n;
    int rc = fs_read_config(path, &buf, &n);
    if (rc)
        return rc;
    rc = fedshare_consortium_parse(out, buf, n, err_line);
    free(buf);
    return rc;
}

void fedshare_consortium_free(fedshare_consortium *c) {
    free(c);
}

size_t fedshare_consortium_size(const fedshare_consortium *c) {
    return c ? c->n : 0;
}

int fedshare_consortium_find(const fedshare_consortium *c, const uint8_t pubkey[32]) {
    if (!c || !pubkey)
        return -1;
    for (size_t i = 0; i < c->n; i++)
        if (!memcmp(c->m[i].key, pubkey, 32))
            return (int)i;
    return -1;
}

const uint8_t *fedshare_consortium_key(const fedshare_consortium *c, size_t i) {
    return c && i < c->n ? c->m[i].key : NULL;
}

const char *fedshare_consortium_name(const fedshare_consortium *c, size_t i) {
    return c && i < c->n ? c->m[i].name : NULL;
}

const char *fedshare_consortium_org(const fedshare_consortium *c, size_t i) {
    return c && i < c->n ? c->m[i].org : NULL;
}

uint32_t fedshare_consortium_roles(const fedshare_consortium *c, size_t i) {
    return c && i < c->n ? c->m[i].roles : 0;
}

size_t fedshare_consortium_credential_count(const fedshare_consortium *c, size_t i) {
    return c && i < c->n ? c->m[i].ncred : 0;
}

const char *fedshare_consortium_credential(const fedshare_consortium *c, size_t i, size_t j) {
    return c && i < c->n && j < c->m[i].ncred ? c->m[i].cred[j] : NULL;
}

static int cmp_key(const void *a, const void *b) {
    return memcmp(((const member *const *)a)[0]->key, ((const member *const *)b)[0]->key, 32);
}

int fedshare_consortium_hash(const fedshare_consortium *c, uint8_t out[32]) {
    if (!c || !out)
        return FEDSHARE_E_INVALID;
    const member *order[FEDSHARE_MEMBERS_MAX];
    for (size_t i = 0; i < c->n; i++)
        order[i] = &c->m[i];
    qsort(order, c->n, sizeof order[0], cmp_key);
    fs_writer w;
    fsw_init(&w);
    fsw_raw(&w, "FSCONSORTIUM/1\0\0", 16);
    fsw_u32(&w, (uint32_t)c->n);
    for (size_t i = 0; i < c->n; i++) {
        const member *m = order[i];
        fsw_raw(&w, m->key, 32);
        fsw_bytes(&w, m->name, strlen(m->name));
        fsw_bytes(&w, m->org, strlen(m->org));
        fsw_u32(&w, m->roles);
        fsw_u32(&w, (uint32_t)m->ncred);
        for (size_t j = 0; j < m->ncred; j++)
            fsw_bytes(&w, m->cred[j], strlen(m->cred[j]));
    }
    uint8_t *buf;
    size_t len;
    int rc = fsw_take(&w, &buf, &len);
    if (rc)
        return rc;
    crypto_hash_sha256(out, buf, len);
    free(buf);
    return FEDSHARE_OK;
}

fedshare_consortium *fs_consortium_copy(const fedshare_consortium *c) {
    fedshare_consortium *d = malloc(sizeof *d);
    if (d)
        memcpy(d, c, sizeof *d);
    return d;
}

void fs_mset_from_config(const fedshare_consortium *c, fs_mset *m) {
    memset(m, 0, sizeof *m);
    m->n = (uint32_t)c->n;
    for (size_t i = 0; i < c->n; i++) {
        fs_mentry *e = &m->e[i];
        memcpy(e->key, c->m[i].key, 32);
        strcpy(e->name, c->m[i].name);
        strcpy(e->org, c->m[i].org);
        e->ncred = (uint32_t)c->m[i].ncred;
        for (size_t j = 0; j < c->m[i].ncred; j++)
            strcpy(e->cred[j], c->m[i].cred[j]);
        e->roles0 = e->roles = c->m[i].roles;
        e->status0 = e->status = FS_MEMBER_ACTIVE;
    }
}

fedshare_consortium *fs_consortium_in_force(const fs_mset *m, uint64_t h) {
    fedshare_consortium *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    for (uint32_t i = 0; i < m->n && c->n < FEDSHARE_MEMBERS_MAX; i++) {
        const fs_mentry *e = &m->e[i];
        if (fs_mentry_status(e, h) != FS_MEMBER_ACTIVE)
            continue;
        member *d = &c->m[c->n++];
        memcpy(d->key, e->key, 32);
        strcpy(d->name, e->name);
        strcpy(d->org, e->org);
        d->roles = fs_mentry_roles(e, h);
        d->ncred = e->ncred;
        for (uint32_t j = 0; j < e->ncred; j++)
            strcpy(d->cred[j], e->cred[j]);
    }
    return c;
}

int fs_word_ok(const char *s, size_t len) {
    char tmp[FEDSHARE_NAME_MAX + 1];
    return s && copy_word(tmp, s, len) == 0;
}
