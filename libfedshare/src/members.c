/* The consortium's membership on the chain: members' roles changed, members
 * added and retired by a quorum of the members in force, effective two blocks
 * after the approving one (docs/fedshare-contracts.md §Membership,
 * docs/formats/fedshare.md §Membership). Until the first proposal the chain
 * records nothing and the configuration's members are in force, so chains
 * written before replay alike. */
#include <stdlib.h>
#include <string.h>

#include "app_internal.h"

static const uint8_t zero32[32];

static void change_rid(uint64_t id, uint8_t out[32]) {
    memset(out, 0, 32);
    for (int i = 0; i < 8; i++)
        out[24 + i] = (uint8_t)(id >> (56 - 8 * i));
}

/* ---- encodings ---- */

static void put_word(fs_writer *w, const char *s) {
    fsw_bytes(w, s, strlen(s));
}

/* A word field: empty allowed only when @p may_be_empty. */
static int get_word(fs_reader *r, char out[FEDSHARE_NAME_MAX + 1], int may_be_empty) {
    size_t n;
    const uint8_t *p = fsr_bytes(r, FEDSHARE_NAME_MAX, &n);
    if (r->err)
        return -1;
    if (!n) {
        out[0] = 0;
        return may_be_empty ? 0 : -1;
    }
    if (!fs_word_ok((const char *)p, n))
        return -1;
    memcpy(out, p, n);
    out[n] = 0;
    return 0;
}

static int get_creds(fs_reader *r, uint32_t *ncred, char (*cred)[FEDSHARE_NAME_MAX + 1]) {
    *ncred = fsr_u32(r);
    if (r->err || *ncred > FS_CRED_MAX)
        return -1;
    for (uint32_t i = 0; i < *ncred; i++) {
        if (get_word(r, cred[i], 0))
            return -1;
        for (uint32_t j = 0; j < i; j++)
            if (!strcmp(cred[i], cred[j]))
                return -1;
    }
    return 0;
}

void fs_mset_encode(const fs_mset *m, fs_writer *w) {
    fsw_u8(w, FS_RECORD_VERSION);
    fsw_u64(w, m->last_id);
    fsw_u64(w, m->open_id);
    fsw_u32(w, m->n);
    for (uint32_t i = 0; i < m->n; i++) {
        const fs_mentry *e = &m->e[i];
        fsw_raw(w, e->key, 32);
        put_word(w, e->name);
        put_word(w, e->org);
        fsw_u32(w, e->ncred);
        for (uint32_t j = 0; j < e->ncred; j++)
            put_word(w, e->cred[j]);
        fsw_u32(w, e->roles0);
        fsw_u8(w, e->status0);
        fsw_u32(w, e->roles);
        fsw_u8(w, e->status);
        fsw_u64(w, e->since);
    }
}

int fs_mset_decode(const uint8_t *v, size_t n, fs_mset *m) {
    fs_reader r;
    fsr_init(&r, v, n);
    /* not the whole set (≈300 KiB): only what is decoded (this runs for every act) */
    m->last_id = m->open_id = 0;
    m->n = 0;
    if (fsr_u8(&r) != FS_RECORD_VERSION)
        return FEDSHARE_E_FORMAT;
    m->last_id = fsr_u64(&r);
    m->open_id = fsr_u64(&r);
    m->n = fsr_u32(&r);
    if (r.err || !m->n || m->n > FEDSHARE_MEMBERS_MAX || m->open_id > m->last_id)
        return FEDSHARE_E_FORMAT;
    for (uint32_t i = 0; i < m->n; i++) {
        fs_mentry *e = &m->e[i];
        memset(e, 0, sizeof *e);
        fsr_raw(&r, e->key, 32);
        if (get_word(&r, e->name, 0) || get_word(&r, e->org, 1) ||
            get_creds(&r, &e->ncred, e->cred))
            return FEDSHARE_E_FORMAT;
        e->roles0 = fsr_u32(&r);
        e->status0 = fsr_u8(&r);
        e->roles = fsr_u32(&r);
        e->status = fsr_u8(&r);
        e->since = fsr_u64(&r);
        if (r.err || (e->roles0 | e->roles) > 31 || e->status0 > FS_MEMBER_RETIRED ||
            e->status < FS_MEMBER_ACTIVE || e->status > FS_MEMBER_RETIRED)
            return FEDSHARE_E_FORMAT;
        for (uint32_t j = 0; j < i; j++)
            if (!memcmp(m->e[j].key, e->key, 32) || !strcmp(m->e[j].name, e->name))
                return FEDSHARE_E_FORMAT;
    }
    return fsr_done(&r) ? FEDSHARE_E_FORMAT : FEDSHARE_OK;
}

void fs_mchange_encode(const fs_mchange *c, fs_writer *w) {
    fsw_u8(w, FS_RECORD_VERSION);
    fsw_u64(w, c->id);
    fsw_u8(w, c->kind);
    fsw_raw(w, c->key, 32);
    fsw_u32(w, c->roles);
    put_word(w, c->name);
    put_word(w, c->org);
    fsw_u32(w, c->ncred);
    for (uint32_t j = 0; j < c->ncred; j++)
        put_word(w, c->cred[j]);
    fsw_u64(w, c->proposed_at);
    fsw_u8(w, c->status);
    fsw_u64(w, c->decided_at);
    fsw_u64(w, c->effective);
    fsw_u32(w, c->n_approvals);
    for (uint32_t i = 0; i < c->n_approvals; i++)
        fsw_raw(w, c->approvals[i], 32);
}

int fs_mchange_decode(const uint8_t *v, size_t n, fs_mchange *c) {
    fs_reader r;
    fsr_init(&r, v, n);
    memset(c, 0, sizeof *c);
    if (fsr_u8(&r) != FS_RECORD_VERSION)
        return FEDSHARE_E_FORMAT;
    c->id = fsr_u64(&r);
    c->kind = fsr_u8(&r);
    fsr_raw(&r, c->key, 32);
    c->roles = fsr_u32(&r);
    if (r.err || !c->id || c->kind < FEDSHARE_MEMBER_ROLES || c->kind > FEDSHARE_MEMBER_RETIRE ||
        c->roles > 31)
        return FEDSHARE_E_FORMAT;
    int join = c->kind == FEDSHARE_MEMBER_JOIN;
    if (get_word(&r, c->name, !join) || get_word(&r, c->org, 1) ||
        get_creds(&r, &c->ncred, c->cred) || (!join && (c->name[0] || c->org[0] || c->ncred)))
        return FEDSHARE_E_FORMAT;
    c->proposed_at = fsr_u64(&r);
    c->status = fsr_u8(&r);
    c->decided_at = fsr_u64(&r);
    c->effective = fsr_u64(&r);
    c->n_approvals = fsr_u32(&r);
    if (r.err || c->status > FS_CHANGE_EXPIRED || !c->n_approvals ||
        c->n_approvals > FEDSHARE_MEMBERS_MAX)
        return FEDSHARE_E_FORMAT;
    for (uint32_t i = 0; i < c->n_approvals; i++) {
        fsr_raw(&r, c->approvals[i], 32);
        for (uint32_t j = 0; !r.err && j < i; j++)
            if (!memcmp(c->approvals[i], c->approvals[j], 32))
                return FEDSHARE_E_FORMAT;
    }
    return fsr_done(&r) ? FEDSHARE_E_FORMAT : FEDSHARE_OK;
}

/* ---- reading the membership ---- */

int fs_mset_load(ledger_state *st, fs_mset *m) {
    const uint8_t *v;
    size_t n;
    int rc = fs_get(st, FEDSHARE_REC_MEMBERS, zero32, NULL, 0, &v, &n);
    return rc ? rc : fs_mset_decode(v, n, m);
}

int fs_members_at(fedshare_app *a, ledger_state *st, uint64_t h, const fedshare_consortium **c,
                  fedshare_consortium **owned) {
    *owned = NULL;
    *c = a->c;
    const uint8_t *v;
    size_t n;
    int rc = fs_get(st, FEDSHARE_REC_MEMBERS, zero32, NULL, 0, &v, &n);
    if (rc == FEDSHARE_E_NOT_FOUND)
        return FEDSHARE_OK;
    if (rc)
        return rc;
    fs_mset *m = malloc(sizeof *m);
    if (!m)
        return FEDSHARE_E_NOMEM;
    rc = fs_mset_decode(v, n, m);
    if (!rc) {
        *owned = fs_consortium_in_force(m, h);
        rc = *owned ? FEDSHARE_OK : FEDSHARE_E_NOMEM;
        *c = *owned;
    }
    if (!rc) { /* remember the latest membership for the node's blob store */
        pthread_mutex_lock(&a->mu);
        if (!a->latest || a->latest_last != m->last_id || a->latest_open != m->open_id) {
            fedshare_consortium *latest = fs_consortium_in_force(m, UINT64_MAX);
            if (latest) {
                fedshare_consortium_free(a->latest);
                a->latest = latest;
                a->latest_last = m->last_id;
                a->latest_open = m->open_id;
            }
        }
        pthread_mutex_unlock(&a->mu);
    }
    free(m);
    return rc;
}

int fs_app_latest_member(fedshare_app *a, const uint8_t key[32]) {
    pthread_mutex_lock(&a->mu);
    int r = a->latest ? fedshare_consortium_find(a->latest, key) >= 0 : -1;
    pthread_mutex_unlock(&a->mu);
    return r;
}

static int find(const fs_mset *m, const uint8_t key[32]) {
    for (uint32_t i = 0; i < m->n; i++)
        if (!memcmp(m->e[i].key, key, 32))
            return (int)i;
    return -1;
}

int fs_member_retired(ledger_state *st, uint64_t h, const uint8_t key[32]) {
    fs_mset *m = malloc(sizeof *m);
    if (!m)
        return FEDSHARE_E_NOMEM;
    int rc = fs_mset_load(st, m), out = 0;
    if (!rc) {
        int i = find(m, key);
        if (i >= 0 && fs_mentry_status(&m->e[i], h) == FS_MEMBER_RETIRED)
            out = FEDSHARE_E_RETIRED;
    } else if (rc != FEDSHARE_E_NOT_FOUND)
        out = rc;
    free(m);
    return out;
}

static uint32_t active_count(const fs_mset *m, uint64_t h) {
    uint32_t k = 0;
    for (uint32_t i = 0; i < m->n; i++)
        k += fs_mentry_status(&m->e[i], h) == FS_MEMBER_ACTIVE;
    return k;
}

/* ---- policy quorums follow the membership ---- */

int fs_policy_signers_ok(fs_exec *x, const uint8_t *u, size_t len) {
    fs_mset *m = malloc(sizeof *m);
    if (!m)
        return FEDSHARE_E_NOMEM;
    int rc = fs_mset_load(x->st, m);
    if (rc == FEDSHARE_E_NOT_FOUND) { /* the configuration's members: libabac's quorum */
        free(m);
        return FEDSHARE_OK;
    }
    /* ABCU: "ABCU" ‖ 1 ‖ base (32) ‖ u32 len ‖ next ‖ u32 n ‖ n × (key ‖ signature) */
    fs_reader r;
    fsr_init(&r, u, len);
    fsr_take(&r, 4 + 1 + 32);
    size_t nl;
    fsr_bytes(&r, len, &nl);
    uint32_t ns = fsr_u32(&r), k = 0;
    if (!rc && r.err)
        rc = FEDSHARE_E_FORMAT;
    for (uint32_t i = 0; !rc && i < ns; i++) {
        const uint8_t *key = fsr_take(&r, 32);
        fsr_take(&r, 64);
        if (r.err) {
            rc = FEDSHARE_E_FORMAT;
            break;
        }
        int j = find(m, key);
        uint8_t s = j < 0 ? FS_MEMBER_NONE : fs_mentry_status(&m->e[j], x->height);
        if (s == FS_MEMBER_RETIRED)
            rc = FEDSHARE_E_RETIRED;
        else if (s == FS_MEMBER_ACTIVE)
            k++;
        else
            rc = FEDSHARE_E_NOT_MEMBER;
    }
    if (!rc && 3 * (uint64_t)k <= 2 * (uint64_t)active_count(m, x->height))
        rc = FEDSHARE_E_QUORUM;
    free(m);
    return rc;
}

/* ---- membership acts ---- */

int fs_state_scan(ledger_state *st, const char *prefix, fs_scan_fn fn, void *ctx) {
    size_t plen = strlen(prefix), clen = plen, nlen, vlen;
    const uint8_t *cur = (const uint8_t *)prefix, *next, *v;
    uint8_t last[FEDSHARE_KEY_MAX];
    for (;;) {
        int rc = ledger_state_next(st, cur, clen, &next, &nlen, &v, &vlen);
        if (rc == LEDGER_E_NOT_FOUND)
            return FEDSHARE_OK;
        if (rc)
            return rc;
        if (nlen < plen || memcmp(next, prefix, plen) || nlen > sizeof last)
            return FEDSHARE_OK;
        memcpy(last, next, nlen); /* fn may write: the cursor is our copy */
        cur = last;
        clen = nlen;
        rc = fn(ctx, last, nlen, v, vlen);
        if (rc)
            return rc;
    }
}

/* Every recorded threshold key keeps at least t holders that are active key
 * holders in @p after at height h, unless @p subject holds none of them. */
typedef struct keep_ctx {
    const fs_mset *after;
    uint64_t h;
    const uint8_t *subject;
    fs_key k;
} keep_ctx;

static int key_keeps_threshold(void *ctx, const uint8_t *key, size_t klen, const uint8_t *v,
                               size_t vlen) {
    (void)key;
    (void)klen;
    keep_ctx *c = ctx;
    fs_key *k = &c->k;
    if (fs_key_decode(v, vlen, k, NULL, NULL))
        return FEDSHARE_OK; /* not a key record of ours: nothing to keep */
    uint32_t good = 0;
    int holds = 0;
    for (uint32_t i = 0; i < k->n; i++) {
        int j = find(c->after, k->holders[i]);
        holds |= !memcmp(k->holders[i], c->subject, 32);
        if (j >= 0 && fs_mentry_status(&c->after->e[j], c->h) == FS_MEMBER_ACTIVE &&
            (fs_mentry_roles(&c->after->e[j], c->h) & FEDSHARE_ROLE_KEYHOLDER))
            good++;
    }
    return holds && good < k->threshold ? FEDSHARE_E_KEYHOLDERS : FEDSHARE_OK;
}

static int keys_keep_threshold(fs_exec *x, const fs_mset *after, uint64_t h,
                               const uint8_t subject[32]) {
    keep_ctx *c = malloc(sizeof *c);
    if (!c)
        return FEDSHARE_E_NOMEM;
    c->after = after;
    c->h = h;
    c->subject = subject;
    int rc = fs_state_scan(x->st, "fs/key/", key_keeps_threshold, c);
    free(c);
    return rc;
}

/* A participant may leave a task in progress (the task goes on without it:
 * fs_task_member_left) as long as the participants left are at least the
 * task's minimum of accepted updates; the aggregator may not (nobody else
 * may aggregate, finalize or judge shares). */
typedef struct task_ctx {
    fs_exec *x;
    const uint8_t *subject;
    fs_task t;
} task_ctx;

static int task_lets_go(void *ctx, const uint8_t *key, size_t klen, const uint8_t *v, size_t vlen) {
    (void)key;
    (void)klen;
    task_ctx *c = ctx;
    fs_task *t = &c->t;
    if (fs_task_decode(v, vlen, t) || t->phase == FEDSHARE_PHASE_DONE)
        return FEDSHARE_OK;
    if (!memcmp(t->aggregator, c->subject, 32))
        return FEDSHARE_E_IN_TASK;
    uint32_t stay = 0;
    int in = 0;
    for (uint32_t i = 0; i < t->n; i++) {
        if (t->p[i].joined & FS_P_LEFT)
            continue;
        if (!memcmp(t->p[i].pk, c->subject, 32))
            in = 1;
        else
            stay++;
    }
    return in && stay < t->min_updates ? FEDSHARE_E_IN_TASK : FEDSHARE_OK;
}

/* The retirement is decided: every task in progress it takes part in goes on without it. */
static int leave_task(void *ctx, const uint8_t *key, size_t klen, const uint8_t *v, size_t vlen) {
    (void)v;
    (void)vlen;
    task_ctx *c = ctx;
    if (klen != strlen("fs/task/") + 32)
        return FEDSHARE_OK;
    return fs_task_member_left(c->x, key + klen - 32, c->subject);
}

/* Run fn (task_lets_go or leave_task) over every stored task for subject. */
static int scan_tasks(fs_exec *x, const uint8_t subject[32], fs_scan_fn fn) {
    task_ctx *c = malloc(sizeof *c);
    if (!c)
        return FEDSHARE_E_NOMEM;
    c->x = x;
    c->subject = subject;
    int rc = fs_state_scan(x->st, "fs/task/", fn, c);
    free(c);
    return rc;
}

/* Apply change c to m, in force from height `from` (every earlier change is in force). */
static int apply_change(fs_mset *m, const fs_mchange *c, uint64_t from) {
    for (uint32_t i = 0; i < m->n; i++) {
        m->e[i].roles0 = m->e[i].roles;
        m->e[i].status0 = m->e[i].status;
    }
    int i = find(m, c->key);
    if (c->kind == FEDSHARE_MEMBER_JOIN) {
        if (i >= 0 || m->n == FEDSHARE_MEMBERS_MAX)
            return FEDSHARE_E_STATE;
        fs_mentry *e = &m->e[m->n++];
        memset(e, 0, sizeof *e);
        memcpy(e->key, c->key, 32);
        strcpy(e->name, c->name);
        strcpy(e->org, c->org);
        e->ncred = c->ncred;
        memcpy(e->cred, c->cred, sizeof e->cred);
        e->roles0 = 0;
        e->status0 = FS_MEMBER_NONE;
        e->roles = c->roles;
        e->status = FS_MEMBER_ACTIVE;
        e->since = from;
        return FEDSHARE_OK;
    }
    if (i < 0)
        return FEDSHARE_E_NOT_FOUND;
    fs_mentry *e = &m->e[i];
    if (c->kind == FEDSHARE_MEMBER_ROLES)
        e->roles = c->roles;
    else
        e->status = FS_MEMBER_RETIRED;
    e->since = from;
    return FEDSHARE_OK;
}

/* Is change c still applicable to m at height h (the membership it would change)? */
static int change_valid(fs_exec *x, const fs_mset *m, const fs_mchange *c, uint64_t h) {
    int i = find(m, c->key);
    if (c->kind == FEDSHARE_MEMBER_JOIN) {
        if (i >= 0)
            return FEDSHARE_E_EXISTS; /* a key is never reused, nor brought back */
        for (uint32_t j = 0; j < m->n; j++)
            if (!strcmp(m->e[j].name, c->name))
                return FEDSHARE_E_EXISTS;
        return m->n == FEDSHARE_MEMBERS_MAX ? FEDSHARE_E_STATE : FEDSHARE_OK;
    }
    if (i < 0)
        return FEDSHARE_E_NOT_FOUND;
    uint8_t s = fs_mentry_status(&m->e[i], h);
    if (s == FS_MEMBER_RETIRED)
        return FEDSHARE_E_RETIRED;
    if (s != FS_MEMBER_ACTIVE)
        return FEDSHARE_E_NOT_FOUND;
    if (c->kind == FEDSHARE_MEMBER_ROLES && fs_mentry_roles(&m->e[i], h) == c->roles)
        return FEDSHARE_E_STATE; /* changes nothing */
    if (c->kind == FEDSHARE_MEMBER_RETIRE && active_count(m, h) < 2)
        return FEDSHARE_E_STATE; /* the last member */
    if (c->kind == FEDSHARE_MEMBER_RETIRE) {
        int rc = scan_tasks(x, c->key, task_lets_go);
        if (rc)
            return rc;
    }
    /* a key holder that leaves, or loses the role, must leave t holders of every key */
    fs_mset *after = malloc(sizeof *after);
    if (!after)
        return FEDSHARE_E_NOMEM;
    memcpy(after, m, sizeof *after);
    int rc = apply_change(after, c, h);
    if (!rc)
        rc = keys_keep_threshold(x, after, h, c->key);
    free(after);
    return rc;
}

static int put_mset(fs_exec *x, const fs_mset *m) {
    fs_writer w;
    fsw_init(&w);
    fs_mset_encode(m, &w);
    return fs_put(x->st, FEDSHARE_REC_MEMBERS, zero32, NULL, 0, &w);
}

static int put_change(fs_exec *x, const fs_mchange *c) {
    uint8_t rid[32];
    change_rid(c->id, rid);
    fs_writer w;
    fsw_init(&w);
    fs_mchange_encode(c, &w);
    return fs_put(x->st, FEDSHARE_REC_MEMBER_CHANGE, rid, NULL, 0, &w);
}

static int load_change(ledger_state *st, uint64_t id, fs_mchange *c) {
    uint8_t rid[32];
    change_rid(id, rid);
    const uint8_t *v;
    size_t n;
    int rc = fs_get(st, FEDSHARE_REC_MEMBER_CHANGE, rid, NULL, 0, &v, &n);
    return rc ? rc : fs_mchange_decode(v, n, c);
}

/* Decide c if more than two thirds of the members in force at h approved it. */
static int maybe_decide(fs_exec *x, fs_mset *m, fs_mchange *c, uint64_t h) {
    uint32_t k = 0;
    for (uint32_t i = 0; i < c->n_approvals; i++) {
        int j = find(m, c->approvals[i]);
        k += j >= 0 && fs_mentry_status(&m->e[j], h) == FS_MEMBER_ACTIVE;
    }
    if (3 * (uint64_t)k <= 2 * (uint64_t)active_count(m, h))
        return FEDSHARE_OK;
    int rc = change_valid(x, m, c, h); /* the state may have moved since the proposal */
    if (!rc)
        rc = apply_change(m, c, h + 2);
    if (!rc && c->kind == FEDSHARE_MEMBER_RETIRE)
        rc = scan_tasks(x, c->key, leave_task);
    if (rc)
        return rc;
    c->status = FS_CHANGE_APPROVED;
    c->decided_at = h;
    c->effective = h + 2;
    m->open_id = 0;
    return FEDSHARE_OK;
}

int fs_member_apply(fs_exec *x, const fs_payload *p) {
    uint64_t h = x->height;
    fs_mset *m = malloc(sizeof *m);
    fs_mchange *c = malloc(sizeof *c), *old = malloc(sizeof *old);
    int rc = m && c && old ? FEDSHARE_OK : FEDSHARE_E_NOMEM, write_old = 0;
    if (!rc) {
        rc = fs_mset_load(x->st, m);
        if (rc == FEDSHARE_E_NOT_FOUND) {
            fs_mset_from_config(x->app->c, m);
            rc = FEDSHARE_OK;
        }
    }
    if (!rc && p->op == FEDSHARE_OP_MEMBER_PROPOSE) {
        if (m->open_id) {
            rc = load_change(x->st, m->open_id, old);
            if (!rc && h <= old->proposed_at + FEDSHARE_MEMBER_TTL)
                rc = FEDSHARE_E_STATE; /* one proposal at a time */
            if (!rc) {                 /* the open one expired: close it */
                old->status = FS_CHANGE_EXPIRED;
                old->decided_at = old->proposed_at + FEDSHARE_MEMBER_TTL + 1;
                m->open_id = 0;
                write_old = 1;
            }
        }
        for (uint32_t i = 0; !rc && i < m->n; i++)
            if (m->e[i].since > h)
                rc = FEDSHARE_E_STATE; /* an approved change is not in force yet */
        if (!rc) {
            memset(c, 0, sizeof *c);
            c->id = m->last_id + 1;
            c->kind = p->method;
            memcpy(c->key, p->hash, 32);
            c->roles = p->uses;
            strcpy(c->name, p->label ? p->label : "");
            strcpy(c->org, p->text ? p->text : "");
            c->ncred = p->ncred;
            for (uint32_t i = 0; i < p->ncred; i++)
                strcpy(c->cred[i], p->creds[i]);
            c->proposed_at = h;
            c->status = FS_CHANGE_OPEN;
            c->n_approvals = 1;
            memcpy(c->approvals[0], x->sender, 32);
            rc = change_valid(x, m, c, h);
        }
        if (!rc) {
            m->last_id = c->id;
            m->open_id = c->id;
            rc = maybe_decide(x, m, c, h);
        }
    } else if (!rc) { /* MEMBER_APPROVE */
        if (!m->open_id || p->count != m->open_id)
            rc = FEDSHARE_E_NOT_FOUND;
        if (!rc)
            rc = load_change(x->st, m->open_id, c);
        if (!rc && h > c->proposed_at + FEDSHARE_MEMBER_TTL)
            rc = FEDSHARE_E_STATE; /* expired */
        for (uint32_t i = 0; !rc && i < c->n_approvals; i++)
            if (!memcmp(c->approvals[i], x->sender, 32))
                rc = FEDSHARE_E_EXISTS;
        if (!rc && c->n_approvals == FEDSHARE_MEMBERS_MAX)
            rc = FEDSHARE_E_STATE;
        if (!rc) {
            memcpy(c->approvals[c->n_approvals++], x->sender, 32);
            rc = maybe_decide(x, m, c, h);
        }
    }
    if (!rc && write_old)
        rc = put_change(x, old);
    if (!rc)
        rc = put_change(x, c);
    if (!rc)
        rc = put_mset(x, m);
    if (!rc)
        rc = fs_index(x, FEDSHARE_TRACE_MEMBER, c->key);
    free(m);
    free(c);
    free(old);
    return rc;
}
