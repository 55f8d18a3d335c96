/* libledger: the upgrade channel (ledger/upgrade.h, docs/formats/ledger.md §Upgrade). */
#include "store_internal.h"
#include "ledger/upgrade.h"

#include <sodium.h>

#define PLAN_RECORD_VERSION 1
#define PLAN_FIXED          (1 + 1 + 4 + 32 + 8 + 8 + 1 + 8 + 2 + 2) /* without name and keys */
#define KEY_VERSION         LDG_SYS_PREFIX "version"
#define KEY_OPEN            LDG_SYS_PREFIX "open"
#define KEY_PLAN            LDG_SYS_PREFIX "plan/"

static int name_ok(const uint8_t *n, size_t len) {
    if (len == 0 || len > LEDGER_UPGRADE_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = n[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

int ledger_upgrade_propose_payload(const char *name, uint32_t version, const uint8_t build_hash[32],
                                   uint64_t height, uint8_t **out, size_t *len) {
    if (!out || !len)
        return LEDGER_E_INVALID;
    *out = NULL;
    *len = 0;
    if (!name || !build_hash || version == 0 || !name_ok((const uint8_t *)name, strlen(name)))
        return LEDGER_E_INVALID;
    size_t nl = strlen(name), n = 1 + nl + 4 + 32 + 8;
    uint8_t *p = malloc(n);
    if (!p)
        return LEDGER_E_NOMEM;
    p[0] = (uint8_t)nl;
    memcpy(p + 1, name, nl);
    ldg_put32(p + 1 + nl, version);
    memcpy(p + 5 + nl, build_hash, 32);
    ldg_put64(p + 37 + nl, height);
    *out = p;
    *len = n;
    return LEDGER_OK;
}

int ledger_upgrade_name_payload(const char *name, uint8_t **out, size_t *len) {
    if (!out || !len)
        return LEDGER_E_INVALID;
    *out = NULL;
    *len = 0;
    if (!name || !name_ok((const uint8_t *)name, strlen(name)))
        return LEDGER_E_INVALID;
    size_t nl = strlen(name);
    uint8_t *p = malloc(1 + nl);
    if (!p)
        return LEDGER_E_NOMEM;
    p[0] = (uint8_t)nl;
    memcpy(p + 1, name, nl);
    *out = p;
    *len = 1 + nl;
    return LEDGER_OK;
}

int ledger_upgrade_key(const char *name, uint8_t *key, size_t *klen) {
    if (!name || !key || !klen || !name_ok((const uint8_t *)name, strlen(name)))
        return LEDGER_E_INVALID;
    size_t pl = sizeof KEY_PLAN - 1, nl = strlen(name);
    memcpy(key, KEY_PLAN, pl);
    memcpy(key + pl, name, nl);
    *klen = pl + nl;
    return LEDGER_OK;
}

/* ---- plan records ---------------------------------------------------- */

/* A decoded plan: the info plus its voters (pointers into a private copy). */
typedef struct plan {
    ledger_upgrade_info info;
    size_t nlen;
    uint8_t *app, *can; /* napp × 32, ncan × 32 */
    size_t napp, ncan;
} plan;

static void plan_free(plan *p) {
    free(p->app);
    free(p->can);
    p->app = p->can = NULL;
}

static int plan_decode(plan *p, const uint8_t *b, size_t n) {
    memset(p, 0, sizeof *p);
    ldg_rd r = {b, n};
    const uint8_t *h, *nm, *f, *c;
    if (ldg_take(&r, 2, &h))
        return LEDGER_E_DECODE;
    if (h[0] != PLAN_RECORD_VERSION)
        return LEDGER_E_VERSION;
    size_t nl = h[1];
    if (ldg_take(&r, nl, &nm) || !name_ok(nm, nl) || ldg_take(&r, 4 + 32 + 8 + 8 + 1 + 8, &f))
        return LEDGER_E_DECODE;
    memcpy(p->info.name, nm, nl);
    p->info.name[nl] = 0;
    p->nlen = nl;
    p->info.version = ldg_get32(f);
    memcpy(p->info.build_hash, f + 4, 32);
    p->info.height = ldg_get64(f + 36);
    p->info.proposed_at = ldg_get64(f + 44);
    p->info.status = f[52];
    p->info.decided_at = ldg_get64(f + 53);
    if (p->info.status > LEDGER_UPGRADE_EXPIRED || p->info.version == 0)
        return LEDGER_E_DECODE;
    for (int list = 0; list < 2; list++) {
        if (ldg_take(&r, 2, &c)) {
            plan_free(p);
            return LEDGER_E_DECODE;
        }
        size_t k = ldg_get16(c);
        const uint8_t *keys;
        if (ldg_take(&r, 32 * k, &keys)) {
            plan_free(p);
            return LEDGER_E_DECODE;
        }
        uint8_t *copy = malloc(k ? 32 * k : 1);
        if (!copy) {
            plan_free(p);
            return LEDGER_E_NOMEM;
        }
        if (k)
            memcpy(copy, keys, 32 * k);
        if (list == 0) {
            p->app = copy;
            p->napp = k;
        } else {
            p->can = copy;
            p->ncan = k;
        }
    }
    if (r.left) {
        plan_free(p);
        return LEDGER_E_DECODE;
    }
    p->info.approvals = (uint32_t)p->napp;
    p->info.cancels = (uint32_t)p->ncan;
    return LEDGER_OK;
}

static int plan_encode(const plan *p, uint8_t **out, size_t *len) {
    size_t n = PLAN_FIXED + p->nlen + 32 * (p->napp + p->ncan);
    uint8_t *b = malloc(n);
    if (!b)
        return LEDGER_E_NOMEM;
    uint8_t *q = b;
    *q++ = PLAN_RECORD_VERSION;
    *q++ = (uint8_t)p->nlen;
    memcpy(q, p->info.name, p->nlen);
    q += p->nlen;
    ldg_put32(q, p->info.version);
    memcpy(q + 4, p->info.build_hash, 32);
    ldg_put64(q + 36, p->info.height);
    ldg_put64(q + 44, p->info.proposed_at);
    q[52] = (uint8_t)p->info.status;
    ldg_put64(q + 53, p->info.decided_at);
    q += 61;
    ldg_put16(q, (uint16_t)p->napp);
    q += 2;
    if (p->napp)
        memcpy(q, p->app, 32 * p->napp);
    q += 32 * p->napp;
    ldg_put16(q, (uint16_t)p->ncan);
    q += 2;
    if (p->ncan)
        memcpy(q, p->can, 32 * p->ncan);
    *out = b;
    *len = n;
    return LEDGER_OK;
}

int ledger_upgrade_decode(ledger_upgrade_info *out, const uint8_t *buf, size_t len) {
    if (!out || (!buf && len))
        return LEDGER_E_INVALID;
    plan p;
    int rc = plan_decode(&p, buf, len);
    if (rc)
        return rc;
    *out = p.info;
    plan_free(&p);
    return LEDGER_OK;
}

static int txn_get(ledger_store *s, MDB_txn *txn, const void *k, size_t kl, MDB_val *v) {
    MDB_val key = ldg_val(k, kl);
    int mrc = mdb_get(txn, s->state, &key, v);
    return mrc ? ldg_mdb_err(mrc) : LEDGER_OK;
}

/* The open plan (LEDGER_E_NOT_FOUND if none). */
static int open_plan(ledger_store *s, MDB_txn *txn, plan *p) {
    MDB_val v;
    int rc = txn_get(s, txn, KEY_OPEN, sizeof KEY_OPEN - 1, &v);
    if (rc)
        return rc;
    uint8_t key[sizeof KEY_PLAN + LEDGER_UPGRADE_NAME_MAX];
    if (!name_ok(v.mv_data, v.mv_size))
        return LEDGER_E_CORRUPT;
    memcpy(key, KEY_PLAN, sizeof KEY_PLAN - 1);
    memcpy(key + sizeof KEY_PLAN - 1, v.mv_data, v.mv_size);
    rc = txn_get(s, txn, key, sizeof KEY_PLAN - 1 + v.mv_size, &v);
    if (rc)
        return rc == LEDGER_E_NOT_FOUND ? LEDGER_E_CORRUPT : rc;
    rc = plan_decode(p, v.mv_data, v.mv_size);
    return rc == LEDGER_E_NOMEM ? rc : rc ? LEDGER_E_CORRUPT : LEDGER_OK;
}

/* The version record: version in force since the last activation (genesis: 1). */
static int version_record(ledger_store *s, MDB_txn *txn, uint32_t *ver) {
    MDB_val v;
    int rc = txn_get(s, txn, KEY_VERSION, sizeof KEY_VERSION - 1, &v);
    if (rc == LEDGER_E_NOT_FOUND) {
        *ver = LEDGER_APP_VERSION_GENESIS;
        return LEDGER_OK;
    }
    if (rc)
        return rc;
    if (v.mv_size != 12 || ldg_get32(v.mv_data) == 0)
        return LEDGER_E_CORRUPT;
    *ver = ldg_get32(v.mv_data);
    return LEDGER_OK;
}

int ldg_upgrade_version_at(ledger_store *s, MDB_txn *txn, uint64_t height, uint32_t *ver) {
    int rc = version_record(s, txn, ver);
    if (rc)
        return rc;
    plan p;
    rc = open_plan(s, txn, &p);
    if (rc == LEDGER_E_NOT_FOUND)
        return LEDGER_OK;
    if (rc)
        return rc;
    if (p.info.status == LEDGER_UPGRADE_APPROVED && height >= p.info.height)
        *ver = p.info.version;
    plan_free(&p);
    return LEDGER_OK;
}

/* ---- writes (inside a block) ------------------------------------------- */

static int sys_put(struct ledger_state *st, const void *k, size_t kl, const uint8_t *v, size_t vl) {
    return ldg_state_write(st, (const uint8_t *)k, kl, v, vl, 1);
}

static int plan_store(struct ledger_state *st, const plan *p) {
    uint8_t key[sizeof KEY_PLAN + LEDGER_UPGRADE_NAME_MAX], *enc;
    size_t len;
    memcpy(key, KEY_PLAN, sizeof KEY_PLAN - 1);
    memcpy(key + sizeof KEY_PLAN - 1, p->info.name, p->nlen);
    int rc = plan_encode(p, &enc, &len);
    if (rc)
        return rc;
    rc = sys_put(st, key, sizeof KEY_PLAN - 1 + p->nlen, enc, len);
    free(enc);
    return rc;
}

static int close_open(struct ledger_state *st) {
    return ldg_state_write(st, (const uint8_t *)KEY_OPEN, sizeof KEY_OPEN - 1, NULL, 0, 0);
}

/* Is key a governor; how many there are (the replicas in force at st's height). */
int ldg_governor(ledger_store *s, struct ledger_state *st, const uint8_t key[32], size_t *count) {
    if (s->app.governor)
        return s->app.governor(s->app.ctx, st, key, count);
    const ledger_membership *m = st->m ? st->m : s->m;
    *count = ledger_membership_count(m);
    return ledger_membership_find(m, key) >= 0;
}
#define governor ldg_governor

/* Governors among the keys (still governors now). */
static int count_current(ledger_store *s, struct ledger_state *st, const uint8_t *keys, size_t k,
                         size_t *n_gov, size_t *count) {
    *count = 0;
    *n_gov = 0;
    for (size_t i = 0; i < k; i++) {
        int g = governor(s, st, keys + 32 * i, n_gov);
        if (g < 0)
            return g;
        *count += (size_t)g;
    }
    return LEDGER_OK;
}

static int quorum(size_t votes, size_t n) {
    return n > 0 && 3 * votes > 2 * n;
}

static int has_key(const uint8_t *keys, size_t k, const uint8_t key[32]) {
    for (size_t i = 0; i < k; i++)
        if (memcmp(keys + 32 * i, key, 32) == 0)
            return 1;
    return 0;
}

static int add_key(uint8_t **keys, size_t *k, const uint8_t key[32]) {
    uint8_t *n = realloc(*keys, 32 * (*k + 1));
    if (!n)
        return LEDGER_E_NOMEM;
    memcpy(n + 32 * *k, key, 32);
    *keys = n;
    (*k)++;
    return LEDGER_OK;
}

int ldg_upgrade_begin_block(ledger_store *s, struct ledger_state *st, uint64_t height,
                            uint32_t *in_force) {
    int rc = version_record(s, st->txn, in_force);
    if (rc)
        return rc;
    plan p;
    rc = open_plan(s, st->txn, &p);
    if (rc == LEDGER_E_NOT_FOUND)
        return LEDGER_OK;
    if (rc)
        return rc;
    if (height >= p.info.height) {
        if (p.info.status == LEDGER_UPGRADE_APPROVED) {
            uint32_t from = *in_force;
            uint8_t vr[12];
            ldg_put32(vr, p.info.version);
            ldg_put64(vr + 4, height);
            p.info.status = LEDGER_UPGRADE_ACTIVATED;
            p.info.decided_at = height;
            rc = sys_put(st, KEY_VERSION, sizeof KEY_VERSION - 1, vr, sizeof vr);
            *in_force = p.info.version;
            st->app_version = p.info.version;
            if (!rc && s->app.migrate) {
                int mrc = s->app.migrate(s->app.ctx, st, from, p.info.version);
                if (mrc)
                    rc = mrc == LEDGER_E_NOMEM || mrc == LEDGER_E_FULL || mrc == LEDGER_E_IO
                             ? mrc
                             : LEDGER_E_APP;
            }
        } else {
            p.info.status = LEDGER_UPGRADE_EXPIRED;
            p.info.decided_at = height;
        }
        if (!rc)
            rc = plan_store(st, &p);
        if (!rc)
            rc = close_open(st);
    }
    plan_free(&p);
    return rc;
}

/* Parse a name payload prefix; *used = its length. */
static int parse_name(const uint8_t *pl, size_t len, size_t *used) {
    if (len < 1 || len < 1 + (size_t)pl[0] || !name_ok(pl + 1, pl[0]))
        return LEDGER_E_REJECTED;
    *used = 1 + pl[0];
    return LEDGER_OK;
}

/* Check (and with write, apply) an upgrade transaction at height. */
static int upgrade_tx(ledger_store *s, struct ledger_state *st, const ledger_tx *tx,
                      uint64_t height, int write) {
    uint16_t op = ledger_tx_op(tx);
    size_t len, used;
    const uint8_t *pl = ledger_tx_payload(tx, &len);
    const uint8_t *sender = ledger_tx_sender(tx);
    if (op != LEDGER_OP_UPGRADE_PROPOSE && op != LEDGER_OP_UPGRADE_APPROVE &&
        op != LEDGER_OP_UPGRADE_CANCEL)
        return LEDGER_E_REJECTED;
    if (parse_name(pl, len, &used))
        return LEDGER_E_REJECTED;
    if (op == LEDGER_OP_UPGRADE_PROPOSE ? len != used + 44 : len != used)
        return LEDGER_E_REJECTED;
    size_t n_gov;
    int g = governor(s, st, sender, &n_gov);
    if (g < 0)
        return g;
    if (!g)
        return LEDGER_E_REJECTED;
    plan p;
    int rc = open_plan(s, st->txn, &p);
    if (rc && rc != LEDGER_E_NOT_FOUND)
        return rc;
    int have_open = rc == LEDGER_OK;
    rc = LEDGER_OK;
    if (op == LEDGER_OP_UPGRADE_PROPOSE) {
        uint32_t ver, cur;
        uint64_t at = ldg_get64(pl + used + 36);
        ver = ldg_get32(pl + used);
        if (have_open) {
            plan_free(&p);
            return LEDGER_E_REJECTED; /* one open plan at a time */
        }
        if ((rc = version_record(s, st->txn, &cur)) != 0)
            return rc;
        uint8_t key[sizeof KEY_PLAN + LEDGER_UPGRADE_NAME_MAX];
        memcpy(key, KEY_PLAN, sizeof KEY_PLAN - 1);
        memcpy(key + sizeof KEY_PLAN - 1, pl + 1, pl[0]);
        MDB_val v;
        int ex = txn_get(s, st->txn, key, sizeof KEY_PLAN - 1 + pl[0], &v);
        if (ex != LEDGER_E_NOT_FOUND)
            return ex ? ex : LEDGER_E_REJECTED; /* a name is used once */
        if (ver <= cur || at < height + LEDGER_UPGRADE_LEAD_MIN || at < height)
            return LEDGER_E_REJECTED;
        if (!write)
            return LEDGER_OK;
        memset(&p, 0, sizeof p);
        memcpy(p.info.name, pl + 1, pl[0]);
        p.nlen = pl[0];
        p.info.version = ver;
        memcpy(p.info.build_hash, pl + used + 4, 32);
        p.info.height = at;
        p.info.proposed_at = height;
        p.info.status = LEDGER_UPGRADE_PROPOSED;
        rc = add_key(&p.app, &p.napp, sender);
        if (!rc && quorum(1, n_gov)) {
            p.info.status = LEDGER_UPGRADE_APPROVED;
            p.info.decided_at = height;
        }
        if (!rc)
            rc = plan_store(st, &p);
        if (!rc)
            rc = sys_put(st, KEY_OPEN, sizeof KEY_OPEN - 1, pl + 1, pl[0]);
        plan_free(&p);
        return rc;
    }
    /* approve or cancel the open plan, before its height */
    if (!have_open)
        return LEDGER_E_REJECTED;
    if (p.nlen != pl[0] || memcmp(p.info.name, pl + 1, p.nlen) != 0 || height >= p.info.height) {
        plan_free(&p);
        return LEDGER_E_REJECTED;
    }
    int cancel = op == LEDGER_OP_UPGRADE_CANCEL;
    if (cancel ? has_key(p.can, p.ncan, sender)
               : (has_key(p.app, p.napp, sender) || p.info.status != LEDGER_UPGRADE_PROPOSED)) {
        plan_free(&p);
        return LEDGER_E_REJECTED; /* counted already, or approved already */
    }
    if (!write) {
        plan_free(&p);
        return LEDGER_OK;
    }
    rc = cancel ? add_key(&p.can, &p.ncan, sender) : add_key(&p.app, &p.napp, sender);
    size_t votes = 0;
    if (!rc)
        rc = cancel ? count_current(s, st, p.can, p.ncan, &n_gov, &votes)
                    : count_current(s, st, p.app, p.napp, &n_gov, &votes);
    p.info.approvals = (uint32_t)p.napp;
    p.info.cancels = (uint32_t)p.ncan;
    int closes = 0;
    if (!rc && quorum(votes, n_gov)) {
        p.info.status = cancel ? LEDGER_UPGRADE_CANCELLED : LEDGER_UPGRADE_APPROVED;
        p.info.decided_at = height;
        closes = cancel;
    }
    if (!rc)
        rc = plan_store(st, &p);
    if (!rc && closes)
        rc = close_open(st);
    plan_free(&p);
    return rc;
}

int ldg_upgrade_check(ledger_store *s, struct ledger_state *st, const ledger_tx *tx,
                      uint64_t height) {
    return upgrade_tx(s, st, tx, height, 0);
}

int ldg_upgrade_apply(ledger_store *s, struct ledger_state *st, const ledger_tx *tx,
                      uint64_t height) {
    return upgrade_tx(s, st, tx, height, 1);
}

/* ---- readers ------------------------------------------------------------ */

int ledger_store_app_version(ledger_store *s, uint32_t *version) {
    if (!s || !version)
        return LEDGER_E_INVALID;
    pthread_mutex_lock(&s->wlock);
    *version = s->app_version;
    pthread_mutex_unlock(&s->wlock);
    return LEDGER_OK;
}

int ledger_store_upgrade(ledger_store *s, const char *name, ledger_upgrade_info *out) {
    if (!s || !out || (name && !name_ok((const uint8_t *)name, strlen(name))))
        return LEDGER_E_INVALID;
    MDB_txn *txn;
    int mrc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (mrc)
        return ldg_mdb_err(mrc);
    plan p;
    int rc;
    if (!name) {
        rc = open_plan(s, txn, &p);
    } else {
        uint8_t key[sizeof KEY_PLAN + LEDGER_UPGRADE_NAME_MAX];
        size_t kl;
        MDB_val v;
        ledger_upgrade_key(name, key, &kl);
        rc = txn_get(s, txn, key, kl, &v);
        if (!rc) {
            rc = plan_decode(&p, v.mv_data, v.mv_size);
            if (rc && rc != LEDGER_E_NOMEM)
                rc = LEDGER_E_CORRUPT;
        }
    }
    if (!rc) {
        *out = p.info;
        plan_free(&p);
    }
    mdb_txn_abort(txn);
    return rc;
}
