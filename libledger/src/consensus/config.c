/* The static configuration file (docs/formats/ledger-consensus.md §Configuration). */
#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lc_config.h"
#include "lc_net.h"

static int hex_decode(uint8_t *out, size_t outlen, const char *hex) {
    size_t bin_len;
    if (strlen(hex) != outlen * 2 ||
        sodium_hex2bin(out, outlen, hex, strlen(hex), NULL, &bin_len, NULL) != 0 ||
        bin_len != outlen)
        return -1;
    return 0;
}

static int parse_u32(const char *s, uint32_t *out, uint32_t lo, uint32_t hi) {
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || s[0] == '-' || s[0] == 0 || v < lo || v > hi)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static int read_key_file(const char *path, uint8_t seed[32]) {
    FILE *f = fopen(path, "r");
    char buf[130];
    if (!f)
        return -1;
    size_t k = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[k] = 0;
    while (k > 0 && (buf[k - 1] == '\n' || buf[k - 1] == '\r' || buf[k - 1] == ' '))
        buf[--k] = 0;
    int rc = hex_decode(seed, 32, buf);
    sodium_memzero(buf, sizeof buf);
    return rc;
}

/* Where a parse error's text goes: the caller's buffer (the library prints nothing). */
typedef struct {
    char *buf;
    size_t size;
} errbuf;

__attribute__((format(printf, 2, 3))) static int fail(errbuf *e, const char *fmt, ...) {
    if (e->buf && e->size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->buf, e->size, fmt, ap);
        va_end(ap);
    }
    return LEDGER_E_CONFIG;
}

static int parse(ledger_config *c, const char *text, size_t len, const char *base, errbuf *eb) {
    char line[1024];
    size_t pos = 0;
    unsigned lineno = 0;
    int have_chain = 0, have_f = 0;
    uint64_t seen = 0;
    char key_file[512] = {0};
    while (pos < len) {
        size_t e = pos;
        while (e < len && text[e] != '\n')
            e++;
        lineno++;
        size_t ll = e - pos;
        if (ll >= sizeof line) {
            return fail(eb, "line %u too long (%zu bytes at most)", lineno, sizeof line - 1);
        }
        memcpy(line, text + pos, ll);
        line[ll] = 0;
        pos = e + 1;
        if (memchr(line, 0, ll)) {
            return fail(eb, "line %u: NUL byte", lineno);
        }
        char *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        char *tok[5];
        int nt = 0;
        char *save = NULL;
        for (char *t = strtok_r(line, " \t\r", &save); t; t = strtok_r(NULL, " \t\r", &save)) {
            if (nt == 5) {
                nt = 6;
                break;
            }
            tok[nt++] = t;
        }
        if (nt == 0)
            continue;
        int ok = 0;
        const char *k = tok[0];
        if (!strcmp(k, "chain_id") && nt == 2) {
            ok = hex_decode(c->chain_id, 32, tok[1]) == 0;
            have_chain = ok;
        } else if (!strcmp(k, "f") && nt == 2) {
            ok = parse_u32(tok[1], &c->f, 0, 21) == 0;
            have_f = ok;
        } else if (!strcmp(k, "replica") && nt == 4) {
            uint32_t id = 0;
            char sa[32];
            ok = parse_u32(tok[1], &id, 0, LC_MAX_REPLICAS - 1) == 0 && !((seen >> id) & 1) &&
                 strlen(tok[2]) < 64 && (!strcmp(tok[2], "-") || lc_parse_addr(tok[2], sa) == 0) &&
                 hex_decode(c->keys[id], 32, tok[3]) == 0;
            if (ok) {
                seen |= 1ull << id;
                strcpy(c->addrs[id], tok[2]);
                if (id + 1 > c->n)
                    c->n = id + 1;
            }
        } else if (!strcmp(k, "genesis_replicas") && nt == 2) {
            ok = parse_u32(tok[1], &c->genesis_n, 4, LC_MAX_REPLICAS) == 0;
        } else if (!strcmp(k, "block_period_ms") && nt == 2) {
            ok = parse_u32(tok[1], &c->block_period_ms, 1, 600000) == 0;
        } else if (!strcmp(k, "max_block_txs") && nt == 2) {
            ok = parse_u32(tok[1], &c->max_block_txs, 1, 65536) == 0;
        } else if (!strcmp(k, "checkpoint_every") && nt == 2) {
            ok = parse_u32(tok[1], &c->checkpoint_every, 1, 1024) == 0;
        } else if (!strcmp(k, "view_timeout_ms") && nt == 2) {
            ok = parse_u32(tok[1], &c->view_timeout_ms, 10, 600000) == 0;
        } else if (!strcmp(k, "max_inflight") && nt == 2) {
            ok = parse_u32(tok[1], &c->max_inflight, 1, 64) == 0;
        } else if (!strcmp(k, "handshake_timeout_ms") && nt == 2) {
            ok = parse_u32(tok[1], &c->handshake_timeout_ms, 50, 600000) == 0;
        } else if (!strcmp(k, "max_pending_conns") && nt == 2) {
            ok = parse_u32(tok[1], &c->max_pending_conns, 1, LC_LIM_MAX_PENDING) == 0;
        } else if (!strcmp(k, "max_clients") && nt == 2) {
            ok = parse_u32(tok[1], &c->max_clients, 1, LC_LIM_MAX_CLIENTS) == 0;
        } else if (!strcmp(k, "max_clients_per_addr") && nt == 2) {
            ok = parse_u32(tok[1], &c->max_clients_per_addr, 1, LC_LIM_MAX_CLIENTS) == 0;
        } else if (!strcmp(k, "client_idle_ms") && nt == 2) {
            ok = parse_u32(tok[1], &c->client_idle_ms, 100, 86400000) == 0;
        } else if (!strcmp(k, "sync") && nt == 2) {
            ok = parse_u32(tok[1], &c->sync, 0, 1) == 0;
            if (ok)
                c->sync = c->sync ? 1 : 2;
        } else if (!strcmp(k, "id") && nt == 2) {
            uint32_t id = 0;
            ok = parse_u32(tok[1], &id, 0, LC_MAX_REPLICAS - 1) == 0;
            c->self = (int)id;
        } else if ((!strcmp(k, "key_file") || !strcmp(k, "data_dir") || !strcmp(k, "fault_file")) &&
                   nt == 2) {
            char *dst = !strcmp(k, "key_file")   ? key_file
                        : !strcmp(k, "data_dir") ? c->data_dir
                                                 : c->fault_file;
            int w;
            if (tok[1][0] == '/' || !base)
                w = snprintf(dst, 512, "%s", tok[1]);
            else
                w = snprintf(dst, 512, "%s/%s", base, tok[1]);
            ok = w > 0 && w < 512;
        }
        if (!ok) {
            return fail(eb, "line %u: invalid setting '%s'", lineno, k);
        }
    }
    if (!have_chain || !have_f) {
        return fail(eb, "chain_id and f are required");
    }
    if (c->n < 4 || c->n < 3 * c->f + 1 || seen != (c->n == 64 ? ~0ull : (1ull << c->n) - 1)) {
        return fail(eb, "need replicas 0..n-1 with n >= 3f+1 and n >= 4");
    }
    if (c->genesis_n && (c->genesis_n > c->n || c->genesis_n < 3 * c->f + 1)) {
        return fail(eb, "genesis_replicas must be at most n and at least 3f+1");
    }
    for (uint32_t i = 0; i < c->n; i++)
        for (uint32_t j = i + 1; j < c->n; j++)
            if (!memcmp(c->keys[i], c->keys[j], 32) ||
                (strcmp(c->addrs[i], "-") && !strcmp(c->addrs[i], c->addrs[j]))) {
                return fail(eb, "replicas %u and %u share a key or address", i, j);
            }
    if (c->self >= (int)c->n) {
        return fail(eb, "id %d is not a replica", c->self);
    }
    if (key_file[0]) {
        if (read_key_file(key_file, c->seed) != 0) {
            return fail(eb, "cannot read a 64-hex seed from %s", key_file);
        }
        c->have_seed = 1;
    }
    return LEDGER_OK;
}

static int parse_into(ledger_config **out, const char *text, size_t len, const char *base,
                      errbuf *e) {
    if (!out)
        return LEDGER_E_INVALID;
    *out = NULL;
    if (!text)
        return LEDGER_E_INVALID;
    if (len > (1u << 20)) {
        fail(e, "the configuration is larger than 1 MiB");
        return LEDGER_E_INVALID;
    }
    ledger_config *c = calloc(1, sizeof *c);
    if (!c)
        return LEDGER_E_NOMEM;
    c->self = -1;
    int rc = parse(c, text, len, base, e);
    if (rc != LEDGER_OK) {
        ledger_config_free(c);
        return rc;
    }
    *out = c;
    return LEDGER_OK;
}

LEDGER_API int ledger_config_parse_ex(ledger_config **out, const char *text, size_t len, char *err,
                                      size_t err_size) {
    errbuf e = {err, err_size};
    if (err && err_size)
        err[0] = 0;
    return parse_into(out, text, len, NULL, &e);
}

LEDGER_API int ledger_config_parse(ledger_config **out, const char *text, size_t len) {
    return ledger_config_parse_ex(out, text, len, NULL, 0);
}

LEDGER_API int ledger_config_load_ex(ledger_config **out, const char *path, char *err,
                                     size_t err_size) {
    errbuf e = {err, err_size};
    if (err && err_size)
        err[0] = 0;
    if (!out || !path)
        return LEDGER_E_INVALID;
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        fail(&e, "cannot open the file");
        return LEDGER_E_IO;
    }
    char *buf = malloc((1u << 20) + 1);
    if (!buf) {
        fclose(f);
        return LEDGER_E_NOMEM;
    }
    size_t k = fread(buf, 1, (1u << 20) + 1, f);
    int err_read = ferror(f);
    fclose(f);
    if (err_read || k > (1u << 20)) {
        free(buf);
        if (err_read) {
            fail(&e, "cannot read the file");
            return LEDGER_E_IO;
        }
        return fail(&e, "the file is larger than 1 MiB");
    }
    char base[512];
    const char *slash = strrchr(path, '/');
    if (slash && (size_t)(slash - path) < sizeof base) {
        memcpy(base, path, (size_t)(slash - path));
        base[slash - path] = 0;
    } else {
        strcpy(base, ".");
    }
    int rc = parse_into(out, buf, k, base, &e);
    free(buf);
    return rc;
}

LEDGER_API int ledger_config_load(ledger_config **out, const char *path) {
    return ledger_config_load_ex(out, path, NULL, 0);
}

LEDGER_API void ledger_config_free(ledger_config *c) {
    if (!c)
        return;
    sodium_memzero(c, sizeof *c);
    free(c);
}

LEDGER_API size_t ledger_config_replicas(const ledger_config *c) {
    return c ? c->n : 0;
}

LEDGER_API uint32_t ledger_config_f(const ledger_config *c) {
    return c ? c->f : 0;
}

LEDGER_API const char *ledger_config_address(const ledger_config *c, size_t i) {
    return (c && i < c->n) ? c->addrs[i] : NULL;
}

LEDGER_API const uint8_t *ledger_config_key(const ledger_config *c, size_t i) {
    return (c && i < c->n) ? c->keys[i] : NULL;
}

LEDGER_API int ledger_config_self(const ledger_config *c) {
    return c ? c->self : -1;
}

LEDGER_API const char *ledger_config_data_dir(const ledger_config *c) {
    return (c && c->data_dir[0]) ? c->data_dir : NULL;
}

LEDGER_API int ledger_config_membership(const ledger_config *c, ledger_membership **out) {
    if (!c || !out)
        return LEDGER_E_INVALID;
    /* replicas above genesis_replicas join later, by a membership change */
    return ledger_membership_create(out, c->chain_id, &c->keys[0][0],
                                    c->genesis_n ? c->genesis_n : c->n, c->f);
}
