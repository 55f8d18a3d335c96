/* libledger: membership changes by quorum (ledger/reconfig.h,
 * docs/formats/ledger.md §Membership change). */
#include "store_internal.h"
#include "ledger/reconfig.h"

#include <sodium.h>

#define CHG_RECORD_VERSION 1
#define KEY_MPROP          LDG_SYS_PREFIX "mprop"
#define KEY_MSEQ           LDG_SYS_PREFIX "mseq"
#define KEY_MSHIP          LDG_SYS_PREFIX "mship/"
#define KEY_MCHG           LDG_SYS_PREFIX "mchg/"
#define MSHIP_KLEN         (sizeof KEY_MSHIP - 1 + 8)

int ledger_member_propose_payload(uint32_t kind, const uint8_t key[32], const char *addr,
                                  uint8_t **out, size_t *len) {
    if (!out || !len)
        return LEDGER_E_INVALID;
    *out = NULL;
    *len = 0;
    size_t al = addr ? strlen(addr) : 0;
    if (!key || (kind != LEDGER_MEMBER_ADD_REPLICA && kind != LEDGER_MEMBER_REMOVE_REPLICA) ||
        (kind == LEDGER_MEMBER_ADD_REPLICA && (al == 0 || al > LEDGER_MEMBER_ADDR_MAX)) ||
        (kind == LEDGER_MEMBER_REMOVE_REPLICA && al))
        return LEDGER_E_INVALID;
    for (size_t i = 0; i < al; i++)
        if ((uint8_t)addr[i] <= 0x20 || (uint8_t)addr[i] >= 0x7f)
            return LEDGER_E_INVALID;
    uint8_t *p = malloc(34 + al);
    if (!p)
        return LEDGER_E_NOMEM;
    p[0] = (uint8_t)kind;
    memcpy(p + 1, key, 32);
    p[33] = (uint8_t)al;
    memcpy(p + 34, addr ? addr : "", al);
    *out = p;
    *len = 34 + al;
    return LEDGER_OK;
}

int ledger_member_approve_payload(uint64_t id, uint8_t out[8]) {
    if (!out || id == 0)
        return LEDGER_E_INVALID;
    ldg_put64(out, id);
    return LEDGER_OK;
}

/* ---- records ------------------------------------------------------------ */

/* A decoded proposal with its approvers. */
typedef struct chg {
    ledger_member_change c;
    uint8_t *app; /* napp × 32 */
    size_t napp;
} chg;

static int chg_decode(chg *p, const uint8_t *b, size_t n) {
    memset(p, 0, sizeof *p);
    ldg_rd r = {b, n};
    const uint8_t *h, *a, *t, *k;
    if (ldg_take(&r, 1 + 8 + 1 + 32 + 1, &h))
        return LEDGER_E_DECODE;
    if (h[0] != CHG_RECORD_VERSION)
        return LEDGER_E_VERSION;
    p->c.id = ldg_get64(h + 1);
    p->c.kind = h[9];
    memcpy(p->c.key, h + 10, 32);
    size_t al = h[42];
    if (al > LEDGER_MEMBER_ADDR_MAX || ldg_take(&r, al, &a) || ldg_take(&r, 8 + 1 + 8 + 8 + 2, &t))
        return LEDGER_E_DECODE;
    memcpy(p->c.addr, a, al);
    p->c.addr[al] = 0;
    p->c.proposed_at = ldg_get64(t);
    p->c.status = t[8];
    p->c.decided_at = ldg_get64(t + 9);
    p->c.effective = ldg_get64(t + 17);
    p->napp = ldg_get16(t + 25);
    if (p->c.id == 0 ||
        (p->c.kind != LEDGER_MEMBER_ADD_REPLICA && p->c.kind != LEDGER_MEMBER_REMOVE_REPLICA) ||
        p->c.status > LEDGER_MEMBER_EXPIRED || ldg_take(&r, 32 * p->napp, &k) || r.left)
        return LEDGER_E_DECODE;
    for (size_t i = 0; i < al; i++)
        if (a[i] <= 0x20 || a[i] >= 0x7f)
            return LEDGER_E_DECODE;
    p->app = malloc(p->napp ? 32 * p->napp : 1);
    if (!p->app)
        return LEDGER_E_NOMEM;
    if (p->napp)
        memcpy(p->app, k, 32 * p->napp);
    p->c.approvals = (uint32_t)p->napp;
    return LEDGER_OK;
}

static int chg_encode(const chg *p, uint8_t **out, size_t *len) {
    size_t al = strlen(p->c.addr);
    size_t n = 43 + al + 27 + 32 * p->napp;
    uint8_t *b = malloc(n);
    if (!b)
        return LEDGER_E_NOMEM;
    b[0] = CHG_RECORD_VERSION;
    ldg_put64(b + 1, p->c.id);
    b[9] = (uint8_t)p->c.kind;
    memcpy(b + 10, p->c.key, 32);
    b[42] = (uint8_t)al;
    memcpy(b + 43, p->c.addr, al);
    uint8_t *t = b + 43 + al;
    ldg_put64(t, p->c.proposed_at);
    t[8] = (uint8_t)p->c.status;
    ldg_put64(t + 9, p->c.decided_at);
    ldg_put64(t + 17, p->c.effective);
    ldg_put16(t + 25, (uint16_t)p->napp);
    if (p->napp)
        memcpy(t + 27, p->app, 32 * p->napp);
    *out = b;
    *len = n;
    return LEDGER_OK;
}

int ledger_member_change_decode(ledger_member_change *out, const uint8_t *buf, size_t len) {
    if (!out || (!buf && len))
        return LEDGER_E_INVALID;
    chg p;
    int rc = chg_decode(&p, buf, len);
    if (!rc)
        *out = p.c;
    free(p.app);
    return rc;
}

static int txn_get(ledger_store *s, MDB_txn *txn, const void *k, size_t kl, MDB_val *v) {
    MDB_val key = ldg_val(k, kl);
    int mrc = mdb_get(txn, s->state, &key, v);
    return mrc ? ldg_mdb_err(mrc) : LEDGER_OK;
}

static void mship_key(uint8_t key[MSHIP_KLEN], uint64_t height) {
    memcpy(key, KEY_MSHIP, sizeof KEY_MSHIP - 1);
    ldg_put64(key + sizeof KEY_MSHIP - 1, height);
}

static int decode_mship(const MDB_val *v, ledger_membership **out) {
    int rc = ledger_membership_decode(out, v->mv_data, v->mv_size);
    return rc == LEDGER_E_NOMEM ? rc : rc ? LEDGER_E_CORRUPT : LEDGER_OK;
}

int ldg_member_record(ledger_store *s, MDB_txn *txn, uint64_t height, ledger_membership **out) {
    uint8_t key[MSHIP_KLEN];
    MDB_val v;
    mship_key(key, height);
    int rc = txn_get(s, txn, key, sizeof key, &v);
    return rc ? rc : decode_mship(&v, out);
}

static int clone(const ledger_membership *m, ledger_membership **out) {
    uint8_t *enc;
    size_t len;
    int rc = ledger_membership_encode(m, &enc, &len);
    if (rc)
        return rc;
    rc = ledger_membership_decode(out, enc, len);
    free(enc);
    return rc;
}

int ldg_membership_at(ledger_store *s, MDB_txn *txn, uint64_t height, ledger_membership **out) {
    *out = NULL;
    MDB_cursor *cur;
    int mrc = mdb_cursor_open(txn, s->state, &cur);
    if (mrc)
        return ldg_mdb_err(mrc);
    uint8_t key[MSHIP_KLEN];
    mship_key(key, height);
    MDB_val k = ldg_val(key, sizeof key), v;
    /* the last record at or below height: MDB_SET_RANGE finds the first ≥ */
    mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    int exact =
        mrc == MDB_SUCCESS && k.mv_size == sizeof key && memcmp(k.mv_data, key, sizeof key) == 0;
    if (!exact)
        mrc = mrc == MDB_NOTFOUND ? mdb_cursor_get(cur, &k, &v, MDB_LAST)
              : mrc               ? mrc
                                  : mdb_cursor_get(cur, &k, &v, MDB_PREV);
    int rc;
    if (mrc == MDB_SUCCESS && k.mv_size == sizeof key &&
        memcmp(k.mv_data, KEY_MSHIP, sizeof KEY_MSHIP - 1) == 0)
        rc = decode_mship(&v, out);
    else if (mrc == MDB_SUCCESS || mrc == MDB_NOTFOUND)
        rc = clone(s->genesis, out);
    else
        rc = ldg_mdb_err(mrc);
    mdb_cursor_close(cur);
    return rc;
}

/* The open proposal (LEDGER_E_NOT_FOUND if none). */
static int open_chg(ledger_store *s, MDB_txn *txn, chg *p) {
    MDB_val v;
    int rc = txn_get(s, txn, KEY_MPROP, sizeof KEY_MPROP - 1, &v);
    if (rc)
        return rc;
    rc = chg_decode(p, v.mv_data, v.mv_size);
    if (rc) {
        free(p->app);
        return rc == LEDGER_E_NOMEM ? rc : LEDGER_E_CORRUPT;
    }
    return LEDGER_OK;
}

static int sys_put(struct ledger_state *st, const void *k, size_t kl, const uint8_t *v, size_t vl) {
    return ldg_state_write(st, (const uint8_t *)k, kl, v, vl, 1);
}

/* Close the open proposal p with its final status: record it under its id. */
static int chg_close(struct ledger_state *st, const chg *p) {
    uint8_t key[sizeof KEY_MCHG - 1 + 8], *enc;
    size_t len;
    memcpy(key, KEY_MCHG, sizeof KEY_MCHG - 1);
    ldg_put64(key + sizeof KEY_MCHG - 1, p->c.id);
    int rc = chg_encode(p, &enc, &len);
    if (rc)
        return rc;
    rc = sys_put(st, key, sizeof key, enc, len);
    free(enc);
    if (!rc)
        rc = ldg_state_write(st, (const uint8_t *)KEY_MPROP, sizeof KEY_MPROP - 1, NULL, 0, 0);
    return rc;
}

int ldg_member_begin_block(ledger_store *s, struct ledger_state *st, uint64_t height) {
    chg p;
    int rc = open_chg(s, st->txn, &p);
    if (rc == LEDGER_E_NOT_FOUND)
        return LEDGER_OK;
    if (rc)
        return rc;
    if (height > p.c.proposed_at + LEDGER_MEMBER_TTL) {
        p.c.status = LEDGER_MEMBER_EXPIRED;
        p.c.decided_at = height;
        rc = chg_close(st, &p);
    }
    free(p.app);
    return rc;
}

static int quorum(size_t votes, size_t n) {
    return n > 0 && 3 * votes > 2 * n;
}

/* The latest membership record's height (0: none, the genesis membership). */
static int latest_change(ledger_store *s, MDB_txn *txn, uint64_t *at) {
    *at = 0;
    MDB_cursor *cur;
    int mrc = mdb_cursor_open(txn, s->state, &cur);
    if (mrc)
        return ldg_mdb_err(mrc);
    uint8_t key[MSHIP_KLEN];
    mship_key(key, UINT64_MAX);
    MDB_val k = ldg_val(key, sizeof key), v;
    mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    mrc = mrc == MDB_NOTFOUND ? mdb_cursor_get(cur, &k, &v, MDB_LAST)
          : mrc               ? mrc
                              : mdb_cursor_get(cur, &k, &v, MDB_PREV);
    if (mrc == MDB_SUCCESS && k.mv_size == sizeof key &&
        memcmp(k.mv_data, KEY_MSHIP, sizeof KEY_MSHIP - 1) == 0)
        *at = ldg_get64((const uint8_t *)k.mv_data + sizeof KEY_MSHIP - 1);
    mdb_cursor_close(cur);
    return mrc == MDB_SUCCESS || mrc == MDB_NOTFOUND ? LEDGER_OK : ldg_mdb_err(mrc);
}

/* Approved: write the new membership, in force from height + LEDGER_MEMBER_DELAY. */
static int schedule(ledger_store *s, struct ledger_state *st, chg *p, uint64_t height) {
    (void)s;
    ledger_membership *nm;
    int rc = ldg_membership_change(st->m, (int)p->c.kind, p->c.key, p->c.addr, &nm);
    if (rc)
        return rc == LEDGER_E_NOMEM ? rc : LEDGER_E_REJECTED;
    uint8_t *enc;
    size_t len;
    rc = ledger_membership_encode(nm, &enc, &len);
    ledger_membership_free(nm);
    if (rc)
        return rc;
    uint8_t key[MSHIP_KLEN];
    mship_key(key, height + LEDGER_MEMBER_DELAY);
    rc = sys_put(st, key, sizeof key, enc, len);
    free(enc);
    p->c.status = LEDGER_MEMBER_APPROVED;
    p->c.decided_at = height;
    p->c.effective = height + LEDGER_MEMBER_DELAY;
    return rc ? rc : chg_close(st, p);
}

static int has_key(const uint8_t *keys, size_t k, const uint8_t key[32]) {
    for (size_t i = 0; i < k; i++)
        if (memcmp(keys + 32 * i, key, 32) == 0)
            return 1;
    return 0;
}

static int member_tx(ledger_store *s, struct ledger_state *st, const ledger_tx *tx, uint64_t height,
                     int write) {
    uint16_t op = ledger_tx_op(tx);
    size_t len;
    const uint8_t *pl = ledger_tx_payload(tx, &len);
    const uint8_t *sender = ledger_tx_sender(tx);
    size_t n_gov;
    int g = ldg_governor(s, st, sender, &n_gov);
    if (g < 0)
        return g;
    if (!g)
        return LEDGER_E_REJECTED;
    chg p;
    int rc = open_chg(s, st->txn, &p);
    if (rc && rc != LEDGER_E_NOT_FOUND)
        return rc;
    int have_open = rc == LEDGER_OK;
    if (op == LEDGER_OP_MEMBER_PROPOSE) {
        if (have_open) {
            free(p.app);
            return LEDGER_E_REJECTED; /* one open proposal at a time */
        }
        if (len < 34 || len != 34 + (size_t)pl[33] || pl[33] > LEDGER_MEMBER_ADDR_MAX)
            return LEDGER_E_REJECTED;
        uint64_t last;
        if ((rc = latest_change(s, st->txn, &last)) != 0)
            return rc;
        if (last > height)
            return LEDGER_E_REJECTED; /* an approved change is not in force yet */
        memset(&p, 0, sizeof p);
        p.c.kind = pl[0];
        memcpy(p.c.key, pl + 1, 32);
        memcpy(p.c.addr, pl + 34, pl[33]);
        p.c.addr[pl[33]] = 0;
        /* the change must apply to the membership in force */
        ledger_membership *nm;
        rc = ldg_membership_change(st->m, (int)p.c.kind, p.c.key,
                                   p.c.kind == LEDGER_MEMBER_ADD_REPLICA ? p.c.addr : NULL, &nm);
        ledger_membership_free(nm);
        if (rc)
            return rc == LEDGER_E_NOMEM ? rc : LEDGER_E_REJECTED;
        if (!write)
            return LEDGER_OK;
        MDB_val v;
        uint64_t seq = 0;
        rc = txn_get(s, st->txn, KEY_MSEQ, sizeof KEY_MSEQ - 1, &v);
        if (rc == LEDGER_OK && v.mv_size == 8)
            seq = ldg_get64(v.mv_data);
        else if (rc != LEDGER_E_NOT_FOUND)
            return rc ? rc : LEDGER_E_CORRUPT;
        uint8_t sb[8];
        ldg_put64(sb, seq + 1);
        if ((rc = sys_put(st, KEY_MSEQ, sizeof KEY_MSEQ - 1, sb, 8)) != 0)
            return rc;
        p.c.id = seq + 1;
        p.c.proposed_at = height;
        p.c.status = LEDGER_MEMBER_PROPOSED;
        p.app = malloc(32);
        if (!p.app)
            return LEDGER_E_NOMEM;
        memcpy(p.app, sender, 32);
        p.napp = 1;
        if (quorum(1, n_gov)) {
            rc = schedule(s, st, &p, height);
        } else {
            uint8_t *enc;
            size_t elen;
            rc = chg_encode(&p, &enc, &elen);
            if (!rc) {
                rc = sys_put(st, KEY_MPROP, sizeof KEY_MPROP - 1, enc, elen);
                free(enc);
            }
        }
        free(p.app);
        return rc;
    }
    if (op != LEDGER_OP_MEMBER_APPROVE || len != 8 || !have_open) {
        if (have_open)
            free(p.app);
        return LEDGER_E_REJECTED;
    }
    if (ldg_get64(pl) != p.c.id || has_key(p.app, p.napp, sender)) {
        free(p.app);
        return LEDGER_E_REJECTED; /* another proposal, or counted already */
    }
    if (!write) {
        free(p.app);
        return LEDGER_OK;
    }
    uint8_t *na = realloc(p.app, 32 * (p.napp + 1));
    if (!na) {
        free(p.app);
        return LEDGER_E_NOMEM;
    }
    p.app = na;
    memcpy(p.app + 32 * p.napp++, sender, 32);
    p.c.approvals = (uint32_t)p.napp;
    /* approvals of governors still in force */
    size_t votes = 0;
    for (size_t i = 0; i < p.napp && !rc; i++) {
        int gi = ldg_governor(s, st, p.app + 32 * i, &n_gov);
        if (gi < 0)
            rc = gi;
        else
            votes += (size_t)gi;
    }
    if (!rc && quorum(votes, n_gov)) {
        rc = schedule(s, st, &p, height);
    } else if (!rc) {
        uint8_t *enc;
        size_t elen;
        rc = chg_encode(&p, &enc, &elen);
        if (!rc) {
            rc = sys_put(st, KEY_MPROP, sizeof KEY_MPROP - 1, enc, elen);
            free(enc);
        }
    }
    free(p.app);
    return rc;
}

int ldg_member_check(ledger_store *s, struct ledger_state *st, const ledger_tx *tx,
                     uint64_t height) {
    return member_tx(s, st, tx, height, 0);
}

int ldg_member_apply(ledger_store *s, struct ledger_state *st, const ledger_tx *tx,
                     uint64_t height) {
    return member_tx(s, st, tx, height, 1);
}

/* ---- readers ------------------------------------------------------------ */

int ledger_store_membership_at(ledger_store *s, uint64_t height, ledger_membership **out) {
    if (!out)
        return LEDGER_E_INVALID;
    *out = NULL;
    if (!s)
        return LEDGER_E_INVALID;
    MDB_txn *txn;
    int mrc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (mrc)
        return ldg_mdb_err(mrc);
    int rc = ldg_membership_at(s, txn, height, out);
    mdb_txn_abort(txn);
    return rc;
}

int ledger_store_member_change(ledger_store *s, uint64_t id, ledger_member_change *out) {
    if (!s || !out)
        return LEDGER_E_INVALID;
    MDB_txn *txn;
    int mrc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (mrc)
        return ldg_mdb_err(mrc);
    chg p;
    int rc;
    if (id == 0) {
        rc = open_chg(s, txn, &p);
    } else {
        uint8_t key[sizeof KEY_MCHG - 1 + 8];
        memcpy(key, KEY_MCHG, sizeof KEY_MCHG - 1);
        ldg_put64(key + sizeof KEY_MCHG - 1, id);
        MDB_val v;
        rc = txn_get(s, txn, key, sizeof key, &v);
        if (!rc) {
            rc = chg_decode(&p, v.mv_data, v.mv_size);
            if (rc) {
                free(p.app);
                rc = rc == LEDGER_E_NOMEM ? rc : LEDGER_E_CORRUPT;
            }
        }
    }
    if (!rc) {
        *out = p.c;
        free(p.app);
    }
    mdb_txn_abort(txn);
    return rc;
}
