/* Consensus message codecs (docs/formats/ledger-consensus.md). */
#include "lc_msg.h"

#include <sodium.h>

static const uint8_t hello_magic[4] = {'L', 'C', 'H', 'S'};
static const uint8_t prop_magic[4] = {'L', 'C', 'P', 'R'};
static const char sig_domain[] = "fedshare-ledger-pbft-v1";

void lc_hello_encode(const lc_hello *h, uint8_t out[LC_HELLO_BYTES]) {
    memcpy(out, hello_magic, 4);
    out[4] = LC_LINK_VERSION;
    out[5] = h->role;
    lc_put_u32(out + 6, h->id);
    memcpy(out + 10, h->eph_pk, 32);
    memcpy(out + 42, h->sig, 64);
}

int lc_hello_decode(lc_hello *h, const uint8_t *p, size_t n) {
    if (n != LC_HELLO_BYTES || memcmp(p, hello_magic, 4) != 0 || p[4] != LC_LINK_VERSION ||
        p[5] > 1)
        return -1;
    h->role = p[5];
    h->id = lc_get_u32(p + 6);
    if ((h->role == 1) != (h->id == LC_CLIENT_ID))
        return -1;
    memcpy(h->eph_pk, p + 10, 32);
    memcpy(h->sig, p + 42, 64);
    return 0;
}

int lc_frame_next(const uint8_t *p, size_t n, size_t *off, const uint8_t **body, size_t *blen) {
    if (*off > n || n - *off < 4)
        return 0;
    uint32_t k = lc_get_u32(p + *off);
    if (k == 0 || k > LC_MAX_FRAME)
        return -1;
    if (n - *off - 4 < k)
        return 0;
    *body = p + *off + 4;
    *blen = k;
    *off += 4 + (size_t)k;
    return 1;
}

int lc_next_var(const uint8_t *p, size_t n, size_t *off, const uint8_t **rec, size_t *len) {
    if (*off > n || n - *off < 4)
        return -1;
    uint32_t k = lc_get_u32(p + *off);
    if (k > n - *off - 4)
        return -1;
    *rec = p + *off + 4;
    *len = k;
    *off += 4 + (size_t)k;
    return 0;
}

int lc_proposal_encode(lc_wr *w, const lc_proposal *pr, const uint8_t *const *tx,
                       const size_t *txlen) {
    lc_wr_bytes(w, prop_magic, 4);
    lc_wr_u8(w, LC_MSG_VERSION);
    lc_wr_u64(w, pr->height);
    lc_wr_u64(w, pr->view);
    lc_wr_u32(w, pr->proposer);
    lc_wr_u64(w, pr->ts_ms);
    lc_wr_u32(w, pr->ntx);
    for (uint32_t i = 0; i < pr->ntx; i++)
        lc_wr_var(w, tx[i], txlen[i]);
    return w->oom ? -1 : 0;
}

int lc_proposal_decode(lc_proposal *pr, const uint8_t *p, size_t n) {
    lc_rd r;
    lc_rd_init(&r, p, n);
    const uint8_t *m = lc_rd_bytes(&r, 4);
    if (!m || memcmp(m, prop_magic, 4) != 0 || lc_rd_u8(&r) != LC_MSG_VERSION)
        return -1;
    pr->height = lc_rd_u64(&r);
    pr->view = lc_rd_u64(&r);
    pr->proposer = lc_rd_u32(&r);
    pr->ts_ms = lc_rd_u64(&r);
    pr->ntx = lc_rd_u32(&r);
    if (r.bad || pr->ntx > LC_MAX_TXS || pr->proposer >= LC_MAX_REPLICAS || pr->height == 0)
        return -1;
    pr->txs = p + r.off;
    pr->txs_len = n - r.off;
    size_t off = 0;
    for (uint32_t i = 0; i < pr->ntx; i++) {
        const uint8_t *t;
        size_t k;
        if (lc_next_var(pr->txs, pr->txs_len, &off, &t, &k) != 0 || k == 0 || k > LC_MAX_TX)
            return -1;
    }
    return off == pr->txs_len ? 0 : -1;
}

int lc_proposal_next_tx(const lc_proposal *pr, size_t *off, const uint8_t **tx, size_t *len) {
    return lc_next_var(pr->txs, pr->txs_len, off, tx, len);
}

/* The signed digest: SHA-256(domain ‖ type ‖ body-without-signature). */
static void sig_hash(uint8_t out[32], uint8_t type, const uint8_t *p, size_t n) {
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)sig_domain, sizeof sig_domain - 1);
    crypto_hash_sha256_update(&st, &type, 1);
    crypto_hash_sha256_update(&st, p, n);
    crypto_hash_sha256_final(&st, out);
}

void lc_msg_sign(lc_wr *w, uint8_t type, size_t body_start, const uint8_t sk[64]) {
    uint8_t h[32], sig[64];
    if (w->oom)
        return;
    sig_hash(h, type, w->p + body_start, w->n - body_start);
    crypto_sign_detached(sig, NULL, h, 32, sk);
    lc_wr_bytes(w, sig, 64);
}

static int sig_check(uint8_t type, const uint8_t *p, size_t n, const uint8_t pk[32]) {
    uint8_t h[32];
    if (n < 64)
        return -1;
    sig_hash(h, type, p, n - 64);
    return crypto_sign_verify_detached(p + n - 64, h, 32, pk) == 0 ? 0 : -1;
}

int lc_preprepare_encode(lc_wr *w, uint64_t view, uint64_t seq, const uint8_t *proposal,
                         size_t proposal_len, const uint8_t sk[64]) {
    size_t start = w->n;
    uint8_t d[32];
    crypto_hash_sha256(d, proposal, proposal_len);
    lc_wr_u64(w, view);
    lc_wr_u64(w, seq);
    lc_wr_bytes(w, d, 32);
    lc_wr_var(w, proposal, proposal_len);
    lc_msg_sign(w, LC_T_PREPREPARE, start, sk);
    return w->oom ? -1 : 0;
}

int lc_preprepare_decode(lc_preprepare *m, const uint8_t *p, size_t n) {
    lc_rd r;
    lc_rd_init(&r, p, n);
    m->view = lc_rd_u64(&r);
    m->seq = lc_rd_u64(&r);
    lc_rd_copy(&r, m->digest, 32);
    m->proposal = lc_rd_var(&r, &m->proposal_len, LC_MAX_FRAME);
    lc_rd_copy(&r, m->sig, 64);
    if (!lc_rd_done(&r))
        return -1;
    uint8_t d[32];
    crypto_hash_sha256(d, m->proposal, m->proposal_len);
    if (sodium_memcmp(d, m->digest, 32) != 0)
        return -1;
    lc_proposal pr;
    if (lc_proposal_decode(&pr, m->proposal, m->proposal_len) != 0 || pr.height != m->seq)
        return -1;
    return 0;
}

int lc_preprepare_verify(const uint8_t *p, size_t n, const uint8_t pk[32]) {
    return sig_check(LC_T_PREPREPARE, p, n, pk);
}

int lc_vote_encode(lc_wr *w, const lc_vote *v, const uint8_t sk[64]) {
    size_t start = w->n;
    lc_wr_u64(w, v->view);
    lc_wr_u64(w, v->seq);
    lc_wr_bytes(w, v->digest, 32);
    lc_wr_u32(w, v->replica);
    if (v->type == LC_T_PREPARE)
        lc_msg_sign(w, LC_T_PREPARE, start, sk);
    else
        lc_wr_bytes(w, v->sig, 64); /* a commit carries its certificate signature */
    return w->oom ? -1 : 0;
}

int lc_vote_decode(lc_vote *v, uint8_t type, const uint8_t *p, size_t n) {
    lc_rd r;
    lc_rd_init(&r, p, n);
    v->type = type;
    v->view = lc_rd_u64(&r);
    v->seq = lc_rd_u64(&r);
    lc_rd_copy(&r, v->digest, 32);
    v->replica = lc_rd_u32(&r);
    lc_rd_copy(&r, v->sig, 64);
    if (!lc_rd_done(&r) || v->replica >= LC_MAX_REPLICAS)
        return -1;
    return 0;
}

int lc_prepare_verify(const uint8_t *p, size_t n, const uint8_t pk[32]) {
    return sig_check(LC_T_PREPARE, p, n, pk);
}

int lc_checkpoint_encode(lc_wr *w, const lc_checkpoint *c, const uint8_t sk[64]) {
    size_t start = w->n;
    lc_wr_u64(w, c->seq);
    lc_wr_bytes(w, c->block_hash, 32);
    lc_wr_u32(w, c->replica);
    lc_msg_sign(w, LC_T_CHECKPOINT, start, sk);
    return w->oom ? -1 : 0;
}

int lc_checkpoint_decode(lc_checkpoint *c, const uint8_t *p, size_t n) {
    lc_rd r;
    lc_rd_init(&r, p, n);
    c->seq = lc_rd_u64(&r);
    lc_rd_copy(&r, c->block_hash, 32);
    c->replica = lc_rd_u32(&r);
    lc_rd_copy(&r, c->sig, 64);
    if (!lc_rd_done(&r) || c->replica >= LC_MAX_REPLICAS)
        return -1;
    return 0;
}

int lc_checkpoint_verify(const uint8_t *p, size_t n, const uint8_t pk[32]) {
    return sig_check(LC_T_CHECKPOINT, p, n, pk);
}

int lc_snap_offer_encode(lc_wr *w, const lc_snap_offer *o, const uint8_t sk[64]) {
    size_t start = w->n;
    lc_wr_u8(w, LC_SNAP_VERSION);
    lc_wr_u32(w, o->replica);
    lc_wr_u64(w, o->height);
    lc_wr_bytes(w, o->hash, 32);
    lc_wr_bytes(w, o->digest, 32);
    lc_msg_sign(w, LC_T_SNAP_OFFER, start, sk);
    return w->oom ? -1 : 0;
}

int lc_snap_offer_decode(lc_snap_offer *o, const uint8_t *p, size_t n) {
    lc_rd r;
    lc_rd_init(&r, p, n);
    uint8_t v = lc_rd_u8(&r);
    o->replica = lc_rd_u32(&r);
    o->height = lc_rd_u64(&r);
    lc_rd_copy(&r, o->hash, 32);
    lc_rd_copy(&r, o->digest, 32);
    lc_rd_copy(&r, o->sig, 64);
    if (!lc_rd_done(&r) || v != LC_SNAP_VERSION || o->replica >= LC_MAX_REPLICAS || !o->height)
        return -1;
    return 0;
}

int lc_snap_offer_verify(const uint8_t *p, size_t n, const uint8_t pk[32]) {
    return sig_check(LC_T_SNAP_OFFER, p, n, pk);
}

void lc_snap_get_encode(lc_wr *w, const lc_snap_get *g) {
    lc_wr_u8(w, LC_SNAP_VERSION);
    lc_wr_u8(w, g->kind);
    lc_wr_u64(w, g->height);
    lc_wr_u64(w, g->index);
    lc_wr_var(w, g->resume, g->resume_len);
}

int lc_snap_get_decode(lc_snap_get *g, const uint8_t *p, size_t n) {
    lc_rd r;
    lc_rd_init(&r, p, n);
    uint8_t v = lc_rd_u8(&r);
    g->kind = lc_rd_u8(&r);
    g->height = lc_rd_u64(&r);
    g->index = lc_rd_u64(&r);
    g->resume = lc_rd_var(&r, &g->resume_len, LC_SNAP_RESUME_MAX);
    if (!lc_rd_done(&r) || v != LC_SNAP_VERSION || g->kind > LC_SNAP_CHUNK || !g->height ||
        (g->kind == LC_SNAP_BLOCK && (g->index || g->resume_len)) ||
        (g->kind == LC_SNAP_CHUNK && (g->index == 0) != (g->resume_len == 0)))
        return -1;
    return 0;
}

void lc_snap_data_encode(lc_wr *w, const lc_snap_data *d) {
    lc_wr_u8(w, LC_SNAP_VERSION);
    lc_wr_u8(w, d->kind);
    lc_wr_u64(w, d->height);
    lc_wr_u64(w, d->index);
    lc_wr_u32(w, (uint32_t)d->status);
    lc_wr_var(w, d->data, d->len);
}

int lc_snap_data_decode(lc_snap_data *d, const uint8_t *p, size_t n) {
    lc_rd r;
    lc_rd_init(&r, p, n);
    uint8_t v = lc_rd_u8(&r);
    d->kind = lc_rd_u8(&r);
    d->height = lc_rd_u64(&r);
    d->index = lc_rd_u64(&r);
    d->status = (int32_t)lc_rd_u32(&r);
    d->data = lc_rd_var(&r, &d->len, LC_MAX_FRAME);
    if (!lc_rd_done(&r) || v != LC_SNAP_VERSION || d->kind > LC_SNAP_CHUNK || !d->height ||
        d->status > 0 || (d->status != 0 && d->len) || (d->kind == LC_SNAP_BLOCK && d->index))
        return -1;
    return 0;
}

void lc_hdr_get_encode(lc_wr *w, const lc_hdr_get *g) {
    lc_wr_u8(w, LC_SNAP_VERSION);
    lc_wr_u64(w, g->top);
    lc_wr_u32(w, g->max);
}

int lc_hdr_get_decode(lc_hdr_get *g, const uint8_t *p, size_t n) {
    lc_rd r;
    lc_rd_init(&r, p, n);
    uint8_t v = lc_rd_u8(&r);
    g->top = lc_rd_u64(&r);
    g->max = lc_rd_u32(&r);
    if (!lc_rd_done(&r) || v != LC_SNAP_VERSION || !g->top || !g->max || g->max > LC_HDRS_MAX)
        return -1;
    return 0;
}

int lc_hdrs_next(const lc_hdrs *m, size_t *off, const uint8_t **hdr, size_t *hl,
                 const uint8_t **cert, size_t *cl) {
    if (lc_next_var(m->recs, m->recs_len, off, hdr, hl) != 0 ||
        lc_next_var(m->recs, m->recs_len, off, cert, cl) != 0)
        return -1;
    return 0;
}

int lc_hdrs_decode(lc_hdrs *m, const uint8_t *p, size_t n) {
    lc_rd r;
    lc_rd_init(&r, p, n);
    uint8_t v = lc_rd_u8(&r);
    m->top = lc_rd_u64(&r);
    m->k = lc_rd_u32(&r);
    if (r.bad || v != LC_SNAP_VERSION || !m->top || m->k > LC_HDRS_MAX || m->k > m->top)
        return -1;
    m->recs = p + r.off;
    m->recs_len = n - r.off;
    size_t off = 0;
    for (uint32_t i = 0; i < m->k; i++) {
        const uint8_t *h, *c;
        size_t hl, cl;
        if (lc_hdrs_next(m, &off, &h, &hl, &c, &cl) != 0 || hl == 0 || hl > 256 || cl == 0 ||
            cl > (1u << 20))
            return -1;
    }
    return off == m->recs_len ? 0 : -1;
}

int lc_viewchange_decode(lc_viewchange *m, const uint8_t *p, size_t n) {
    lc_rd r;
    lc_rd_init(&r, p, n);
    m->new_view = lc_rd_u64(&r);
    m->last_height = lc_rd_u64(&r);
    lc_rd_copy(&r, m->last_hash, 32);
    m->cert = lc_rd_var(&r, &m->cert_len, 1u << 20);
    m->stable = lc_rd_u64(&r);
    lc_rd_copy(&r, m->stable_hash, 32);
    m->nckpt = lc_rd_u32(&r);
    if (r.bad || m->nckpt > LC_MAX_REPLICAS)
        return -1;
    m->ckpts = p + r.off;
    size_t ck_start = r.off;
    for (uint32_t i = 0; i < m->nckpt; i++) {
        size_t k;
        const uint8_t *rec = lc_rd_var(&r, &k, 256);
        lc_checkpoint c;
        if (r.bad || lc_checkpoint_decode(&c, rec, k) != 0)
            return -1;
    }
    m->ckpts_len = r.off - ck_start;
    m->replica = lc_rd_u32(&r);
    m->nprepared = lc_rd_u32(&r);
    if (r.bad || n < r.off + 64 || m->replica >= LC_MAX_REPLICAS || m->nprepared > 4096)
        return -1;
    m->prepared = p + r.off;
    m->prepared_len = n - r.off - 64;
    size_t off = 0;
    for (uint32_t i = 0; i < m->nprepared; i++) {
        const uint8_t *rec;
        size_t k;
        lc_preprepare pp;
        if (lc_next_var(m->prepared, m->prepared_len, &off, &rec, &k) != 0 ||
            lc_preprepare_decode(&pp, rec, k) != 0)
            return -1;
        if (off + 4 > m->prepared_len)
            return -1;
        uint32_t np = lc_get_u32(m->prepared + off);
        off += 4;
        if (np > LC_MAX_REPLICAS)
            return -1;
        for (uint32_t j = 0; j < np; j++) {
            lc_vote v;
            if (lc_next_var(m->prepared, m->prepared_len, &off, &rec, &k) != 0 ||
                lc_vote_decode(&v, LC_T_PREPARE, rec, k) != 0)
                return -1;
        }
    }
    if (off != m->prepared_len)
        return -1;
    memcpy(m->sig, p + n - 64, 64);
    return 0;
}

int lc_viewchange_verify(const uint8_t *p, size_t n, const uint8_t pk[32]) {
    return sig_check(LC_T_VIEWCHANGE, p, n, pk);
}

int lc_newview_decode(lc_newview *m, const uint8_t *p, size_t n) {
    lc_rd r;
    lc_rd_init(&r, p, n);
    m->view = lc_rd_u64(&r);
    m->nvc = lc_rd_u32(&r);
    if (r.bad || m->nvc > LC_MAX_REPLICAS)
        return -1;
    m->vcs = p + r.off;
    size_t off = 0;
    const uint8_t *rec;
    size_t k;
    size_t avail = n - r.off;
    for (uint32_t i = 0; i < m->nvc; i++) {
        lc_viewchange vc;
        if (lc_next_var(m->vcs, avail, &off, &rec, &k) != 0 || lc_viewchange_decode(&vc, rec, k))
            return -1;
    }
    m->vcs_len = off;
    lc_rd_bytes(&r, off);
    m->npp = lc_rd_u32(&r);
    if (r.bad || m->npp > 4096)
        return -1;
    m->pps = p + r.off;
    avail = n - r.off;
    off = 0;
    for (uint32_t i = 0; i < m->npp; i++) {
        lc_preprepare pp;
        if (lc_next_var(m->pps, avail, &off, &rec, &k) != 0 || lc_preprepare_decode(&pp, rec, k))
            return -1;
    }
    m->pps_len = off;
    lc_rd_bytes(&r, off);
    lc_rd_copy(&r, m->sig, 64);
    return lc_rd_done(&r) ? 0 : -1;
}

int lc_newview_verify(const uint8_t *p, size_t n, const uint8_t pk[32]) {
    return sig_check(LC_T_NEWVIEW, p, n, pk);
}

void lc_reply_encode(lc_wr *w, const lc_reply *r) {
    lc_wr_bytes(w, r->tx_hash, 32);
    lc_wr_u32(w, (uint32_t)r->status);
    lc_wr_u64(w, r->height);
    lc_wr_u32(w, r->index);
    lc_wr_u32(w, r->replica);
    lc_wr_bytes(w, r->block_hash, 32);
}

int lc_reply_decode(lc_reply *r, const uint8_t *p, size_t n) {
    lc_rd rd;
    lc_rd_init(&rd, p, n);
    lc_rd_copy(&rd, r->tx_hash, 32);
    r->status = (int32_t)lc_rd_u32(&rd);
    r->height = lc_rd_u64(&rd);
    r->index = lc_rd_u32(&rd);
    r->replica = lc_rd_u32(&rd);
    lc_rd_copy(&rd, r->block_hash, 32);
    return lc_rd_done(&rd) ? 0 : -1;
}
