/* The training contract: a task's life from creation to the stop rule, one
 * phase at a time (docs/fedshare-contracts.md §Training). Every handler
 * validates everything before it writes, so a refused act changes nothing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <fedavg.h>

#include "app_internal.h"

#define GRANT_OFF_T0     66
#define GRANT_OFF_USES   90
#define GRANT_OFF_ACTION 94
#define HIST_MAX         1024

static uint64_t get64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* May the creator start a task on this data set? The owner always may; anyone
 * else needs a live "train" grant with uses left. On success *grant holds a
 * copy of the grant with one use taken (to store), or NULL for the owner. */
static int authorize_use(fs_exec *x, const fs_data *d, const uint8_t data_id[32], uint8_t **grant,
                         size_t *grant_len) {
    *grant = NULL;
    if (!memcmp(d->owner, x->sender, 32))
        return FEDSHARE_OK;
    const uint8_t *v;
    size_t n;
    int rc = fs_get(x->st, FEDSHARE_REC_GRANT, data_id, x->sender, 0, &v, &n);
    if (rc == FEDSHARE_E_NOT_FOUND)
        return FEDSHARE_E_NOT_GRANTED;
    if (rc)
        return rc;
    if (n < GRANT_OFF_ACTION + 4 || v[1] != 1)
        return FEDSHARE_E_NOT_GRANTED;
    uint64_t t0 = get64(v + GRANT_OFF_T0), t1 = get64(v + GRANT_OFF_T0 + 8);
    uint32_t uses = get32(v + GRANT_OFF_USES), alen = get32(v + GRANT_OFF_ACTION);
    uint64_t now = x->timestamp / 1000;
    if (alen != 5 || n < GRANT_OFF_ACTION + 4 + 5 || memcmp(v + GRANT_OFF_ACTION + 4, "train", 5) ||
        now < t0 || now > t1 || !uses)
        return FEDSHARE_E_NOT_GRANTED;
    *grant = malloc(n);
    if (!*grant)
        return FEDSHARE_E_NOMEM;
    memcpy(*grant, v, n);
    uses--;
    for (int i = 0; i < 4; i++)
        (*grant)[GRANT_OFF_USES + i] = (uint8_t)(uses >> (24 - 8 * i));
    *grant_len = n;
    return FEDSHARE_OK;
}

static int put_task(fs_exec *x, const uint8_t id[32], const fs_task *t) {
    fs_writer w;
    fsw_init(&w);
    fs_task_encode(t, &w);
    return fs_put(x->st, FEDSHARE_REC_TASK, id, NULL, 0, &w);
}

/* Encode a round record now, write it later with the task (flush_rounds), so
 * that a record that does not encode (a non-finite number) writes nothing. */
static int put_round(fs_exec *x, const uint8_t id[32], uint32_t round, const fs_round *r) {
    (void)id;
    int i = 0;
    while (i < x->n_pend && x->pend_round[i] != round)
        i++;
    if (i == x->n_pend) {
        if (x->n_pend == (int)(sizeof x->pend / sizeof x->pend[0]))
            return FEDSHARE_E_INVALID;
        x->n_pend++;
    } else
        fsw_free(&x->pend[i]);
    fsw_init(&x->pend[i]);
    x->pend_round[i] = round;
    fs_round_encode(r, &x->pend[i]);
    return FEDSHARE_OK;
}

static void drop_rounds(fs_exec *x) {
    for (int i = 0; i < x->n_pend; i++)
        fsw_free(&x->pend[i]);
    x->n_pend = 0;
}

/* Write the pending round records and the task, or nothing if one of them
 * does not encode. */
static int flush_rounds(fs_exec *x, const uint8_t id[32], const fs_task *t) {
    fs_writer tw;
    fsw_init(&tw);
    fs_task_encode(t, &tw);
    int rc = tw.err;
    for (int i = 0; !rc && i < x->n_pend; i++)
        rc = x->pend[i].err;
    if (rc) {
        fsw_free(&tw);
        drop_rounds(x);
        return rc;
    }
    for (int i = 0; !rc && i < x->n_pend; i++) {
        rc = fs_put(x->st, FEDSHARE_REC_ROUND, id, NULL, x->pend_round[i], &x->pend[i]);
        fsw_init(&x->pend[i]); /* fs_put freed it */
    }
    drop_rounds(x);
    if (rc) {
        fsw_free(&tw);
        return rc;
    }
    return fs_put(x->st, FEDSHARE_REC_TASK, id, NULL, 0, &tw);
}

/* Updates of the round the anomaly test accepted. */
static uint32_t accepted_updates(const fs_round *r) {
    uint32_t a = 0;
    for (uint32_t i = 0; i < r->n; i++)
        a += r->up[i].present && r->up[i].verdict != FEDAVG_VERDICT_SUSPICIOUS;
    return a;
}

static int task_create(fs_exec *x, const fs_payload *p, fs_task *t) {
    const fedshare_task_spec *s = &p->spec;
    const uint8_t *v;
    size_t n;
    int rc = fs_get(x->st, FEDSHARE_REC_MODEL, s->model_id, NULL, 0, &v, &n);
    if (rc)
        return rc;
    /* the model record: v ‖ publisher ‖ structure ‖ digest ‖ … */
    if (n < 97)
        return FEDSHARE_E_FORMAT;
    memset(t, 0, sizeof *t);
    memcpy(t->global, v + 65, 32);
    fs_key *k = malloc(sizeof *k);
    if (!k)
        return FEDSHARE_E_NOMEM;
    rc = fs_key_load(x->st, s->key_id, k);
    t->threshold = k->threshold;
    free(k);
    if (rc)
        return rc;
    if ((rc = fs_require_role(x->c, s->aggregator, FEDSHARE_ROLE_AGGREGATOR)) != 0)
        return rc;
    /* a member whose retirement is decided but not yet in force (h, h + 1) would be
     * waited for by a new task that does not know it left */
    if ((rc = fs_member_retired(x->st, UINT64_MAX, s->aggregator)) != 0)
        return rc;
    fedavg_codec *codec = NULL;
    if (fedavg_codec_decode(&codec, s->codec, s->codec_len) != FEDAVG_OK)
        return FEDSHARE_E_INVALID;
    t->max_weight = fedavg_codec_max_weight(codec);
    fedavg_codec_free(codec);

    uint8_t *grants[FS_PARTICIPANTS_MAX] = {0};
    size_t glen[FS_PARTICIPANTS_MAX] = {0};
    fs_data *d = malloc(sizeof *d * p->n);
    if (!d)
        return FEDSHARE_E_NOMEM;
    for (size_t i = 0; !rc && i < p->n; i++) {
        const uint8_t *pk = p->list + 64 * i, *id = pk + 32;
        rc = fs_require_role(x->c, pk, FEDSHARE_ROLE_PROVIDER);
        if (!rc)
            rc = fs_member_retired(x->st, UINT64_MAX, pk);
        for (size_t j = 0; !rc && j < i; j++)
            if (!memcmp(pk, p->list + 64 * j, 32) || !memcmp(id, p->list + 64 * j + 32, 32))
                rc = FEDSHARE_E_INVALID;
        if (!rc)
            rc = fs_data_load(x->st, id, &d[i]);
        if (!rc && d[i].status != FS_DATA_ACTIVE)
            rc = FEDSHARE_E_STATE;
        if (!rc && memcmp(d[i].owner, pk, 32))
            rc = FEDSHARE_E_NOT_OWNER; /* each participant trains on its own data */
        if (!rc)
            rc = authorize_use(x, &d[i], id, &grants[i], &glen[i]);
    }
    if (!rc) {
        memcpy(t->creator, x->sender, 32);
        memcpy(t->model_id, s->model_id, 32);
        memcpy(t->key_id, s->key_id, 32);
        memcpy(t->aggregator, s->aggregator, 32);
        t->n = (uint32_t)p->n;
        for (size_t i = 0; i < p->n; i++) {
            memcpy(t->p[i].pk, p->list + 64 * i, 32);
            memcpy(t->p[i].data_id, p->list + 64 * i + 32, 32);
        }
        t->lr = s->learning_rate;
        t->batch = s->batch_size;
        t->upload_every = s->upload_every;
        t->round_limit = s->round_limit;
        t->stop_threshold = s->stop_threshold;
        t->stop_patience = s->stop_patience;
        t->anomaly_k = s->anomaly_k;
        t->anomaly_warmup = s->anomaly_warmup;
        t->min_updates = s->min_updates ? s->min_updates : fs_default_min_updates(t->n);
        t->anomaly_rule = s->anomaly_rule;
        /* the server optimizer (TASK_CREATE v4); x_0 is the initial model */
        t->server_opt = s->version >= 4 ? s->server_optimizer : FEDSHARE_SERVER_FEDAVG;
        if (t->server_opt) {
            t->server_eta = s->server_eta;
            t->server_beta1 = s->server_beta1;
            t->server_beta2 = s->server_beta2;
            t->server_tau = s->server_tau;
            memcpy(t->server_global, t->global, 32);
        }
        memcpy(t->codec, s->codec, s->codec_len);
        t->codec_len = (uint32_t)s->codec_len;
        t->phase = FEDSHARE_PHASE_JOINING;
        /* all checks passed: write */
        rc = put_task(x, x->tx_hash, t);
        for (size_t i = 0; !rc && i < p->n; i++) {
            const uint8_t *id = p->list + 64 * i + 32;
            d[i].uses++;
            fs_writer w;
            fsw_init(&w);
            fs_data_encode(&d[i], &w);
            rc = fs_put(x->st, FEDSHARE_REC_DATA, id, NULL, 0, &w);
            if (!rc && grants[i]) {
                fsw_init(&w);
                fsw_raw(&w, grants[i], glen[i]);
                rc = fs_put(x->st, FEDSHARE_REC_GRANT, id, x->sender, 0, &w);
            }
            if (!rc)
                rc = fs_index(x, FEDSHARE_TRACE_DATA, id);
        }
        if (!rc)
            rc = fs_index(x, FEDSHARE_TRACE_TASK, x->tx_hash);
    }
    for (size_t i = 0; i < p->n; i++)
        free(grants[i]);
    free(d);
    return rc;
}

static int participant_index(const fs_task *t, const uint8_t pk[32]) {
    for (uint32_t i = 0; i < t->n; i++)
        if (!memcmp(t->p[i].pk, pk, 32))
            return (int)i;
    return -1;
}

/* Participant i left the task (retired from the consortium): nothing waits for it. */
static int gone(const fs_task *t, uint32_t i) {
    return (t->p[i].joined & FS_P_LEFT) != 0;
}

/* Every participant still in the task has joined / uploaded / evaluated. */
static int all_joined(const fs_task *t) {
    for (uint32_t i = 0; i < t->n; i++)
        if (!gone(t, i) && !(t->p[i].joined & FS_P_JOINED))
            return 0;
    return 1;
}

static int all_uploaded(const fs_task *t, const fs_round *r) {
    for (uint32_t i = 0; i < r->n; i++)
        if (!gone(t, i) && !r->up[i].present)
            return 0;
    return 1;
}

static int all_evaluated(const fs_task *t, const fs_round *r) {
    for (uint32_t i = 0; i < r->n; i++)
        if (!gone(t, i) && !r->evaluated[i])
            return 0;
    return 1;
}

/* Start round r: an empty round record, phase UPLOAD. */
static int open_round(fs_exec *x, const uint8_t id[32], fs_task *t, fs_round *r) {
    t->round++;
    t->phase = FEDSHARE_PHASE_UPLOAD;
    memset(r, 0, sizeof *r);
    r->n = t->n;
    return put_round(x, id, t->round, r);
}

/* Every update is in: judge them under the task's rule (libfedavg
 * fedavg_round_judge: the seed's pooled k-sigma test, or the robust default),
 * then aggregate the accepted ones, or skip the round if too few are.
 * The first statistic is the norm relative to the round's median norm:
 * update norms shrink as training converges, so raw norms drift and an
 * honest round would look like an outlier against early history; the
 * ratio to the median is stationary, and one participant far from the
 * others still stands out (docs/fedshare-contracts.md §Training). */
static int close_uploads(fs_exec *x, const uint8_t id[32], fs_task *t, fs_round *r) {
    fedavg_judge_config cfg;
    fedavg_judge_config_init(&cfg);
    cfg.rule = t->anomaly_rule;
    /* contract version 2: the robust rule replaces the pooled k-sigma test */
    if (cfg.rule == FEDAVG_RULE_POOLED && ledger_state_app_version(x->st) >= 2)
        cfg.rule = FEDAVG_RULE_ROBUST;
    if (cfg.rule == FEDAVG_RULE_POOLED) { /* the task's k and warm-up */
        cfg.k = t->anomaly_k;
        cfg.warmup = t->anomaly_warmup;
    }
    cfg.window = HIST_MAX;
    double stats[2 * FS_PARTICIPANTS_MAX], norms[FS_PARTICIPANTS_MAX], cosines[FS_PARTICIPANTS_MAX];
    uint32_t members[FS_PARTICIPANTS_MAX], hist_members[HIST_MAX], m = 0;
    uint8_t verdict[FS_PARTICIPANTS_MAX];
    /* the updates present: a participant that left the task has none */
    for (uint32_t i = 0; i < r->n; i++) {
        if (!r->up[i].present)
            continue;
        members[m] = i;
        norms[m] = r->up[i].norm;
        cosines[m] = r->up[i].cosine;
        m++;
    }
    for (uint32_t j = 0; j < t->n_hist; j++) /* 0xFF (unknown) matches no member */
        hist_members[j] = t->hist_member[j];
    int rc = fedavg_round_judge(&cfg, members, norms, cosines, m, hist_members, t->hist, t->n_hist,
                                verdict, stats);
    if (rc)
        return rc == FEDAVG_E_NOMEM ? FEDSHARE_E_NOMEM : FEDSHARE_E_INVALID;
    r->total_weight = 0;
    for (uint32_t k = 0; k < m; k++) {
        uint32_t i = members[k];
        r->up[i].verdict = verdict[k];
        if (verdict[k] == FEDAVG_VERDICT_SUSPICIOUS)
            continue;
        r->total_weight += r->up[i].weight;
        if (t->n_hist == HIST_MAX) { /* keep the newest HIST_MAX updates */
            memmove(t->hist, t->hist + 2, sizeof(double) * 2 * (HIST_MAX - 1));
            memmove(t->hist_member, t->hist_member + 1, HIST_MAX - 1);
            t->n_hist--;
        }
        t->hist_member[t->n_hist] = (uint8_t)i;
        t->hist[2 * t->n_hist] = stats[2 * k];
        t->hist[2 * t->n_hist + 1] = stats[2 * k + 1];
        t->n_hist++;
    }
    /* Too few accepted updates: decrypting their sum would reveal one member's
     * update (or nearly), so the round is skipped and the global model stays. */
    if (accepted_updates(r) < t->min_updates) {
        r->skipped = 1;
        r->total_weight = 0;
        rc = put_round(x, id, t->round, r);
        if (!rc && t->round >= t->round_limit) { /* a skipped round counts toward the limit */
            t->phase = FEDSHARE_PHASE_DONE;
            t->stop_reason = FEDAVG_STOP_LIMIT;
            return FEDSHARE_OK;
        }
        return rc ? rc : open_round(x, id, t, r);
    }
    t->phase = FEDSHARE_PHASE_AGGREGATE;
    return put_round(x, id, t->round, r);
}

/* The aggregate does not match what someone recomputed: refuse it. */
static void refuse_aggregate(fs_task *t, fs_round *r) {
    r->has_aggregate = 0;
    memset(r->aggregate, 0, 32);
    r->refused++;
    r->n_shares = 0;
    memset(r->share_refused, 0, sizeof r->share_refused);
    memset(r->checked, 0, sizeof r->checked);
    t->phase = FEDSHARE_PHASE_AGGREGATE;
}

static int is_holder(const fs_key *k, const uint8_t pk[32]) {
    for (uint32_t i = 0; i < k->n; i++)
        if (!memcmp(k->holders[i], pk, 32))
            return 1;
    return 0;
}

/* Every participant still in the task agrees on the model: the round is done;
 * the stop rule decides whether another one opens. */
static int finish_round(fs_exec *x, const uint8_t id[32], fs_task *t, fs_round *r) {
    double metric = r->metric_sum / (double)r->samples;
    if (!isfinite(metric))
        return FEDSHARE_E_INVALID;
    memcpy(t->global, r->model, 32);
    if (t->server_opt)
        memcpy(t->server_global, r->server_model, 32);
    t->metrics[t->n_metrics++] = metric;
    fedavg_stop_config sc;
    fedavg_stop_config_init(&sc);
    sc.threshold = t->stop_threshold;
    sc.patience = t->stop_patience;
    sc.max_rounds = t->round_limit;
    int decision = FEDAVG_STOP_CONTINUE;
    if (fedavg_stop_evaluate(&sc, t->metrics, t->n_metrics, &decision) != FEDAVG_OK)
        return FEDSHARE_E_INVALID;
    int rc = put_round(x, id, t->round, r);
    if (rc)
        return rc;
    if (decision != FEDAVG_STOP_CONTINUE || t->n_metrics >= 1000) {
        t->phase = FEDSHARE_PHASE_DONE;
        t->stop_reason = (uint8_t)(decision ? decision : FEDAVG_STOP_LIMIT);
        return FEDSHARE_OK;
    }
    return open_round(x, id, t, r);
}

static int round_act(fs_exec *x, const fs_payload *p, fs_task *t, fs_round *r) {
    const uint8_t *id = p->id;
    int pi = participant_index(t, x->sender);
    switch (p->op) {
        case FEDSHARE_OP_UPDATE_UPLOAD: {
            if (t->phase != FEDSHARE_PHASE_UPLOAD)
                return FEDSHARE_E_STATE;
            if (pi < 0)
                return FEDSHARE_E_ROLE;
            if (gone(t, (uint32_t)pi))
                return FEDSHARE_E_RETIRED;
            if (r->up[pi].present)
                return FEDSHARE_E_EXISTS;
            uint64_t sum = p->weight;
            for (uint32_t i = 0; i < r->n; i++)
                sum += r->up[i].present ? r->up[i].weight : 0;
            if (sum > t->max_weight)
                return FEDSHARE_E_INVALID; /* the codec's headroom would overflow */
            fs_upload *u = &r->up[pi];
            u->present = 1;
            memcpy(u->blob, p->hash, 32);
            u->weight = p->weight;
            u->norm = p->x;
            u->cosine = p->y;
            if (!all_uploaded(t, r))
                return put_round(x, id, t->round, r);
            return close_uploads(x, id, t, r);
        }
        case FEDSHARE_OP_AGGREGATE:
            if (memcmp(x->sender, t->aggregator, 32))
                return FEDSHARE_E_ROLE;
            if (t->phase != FEDSHARE_PHASE_AGGREGATE)
                return FEDSHARE_E_STATE;
            memcpy(r->aggregate, p->hash, 32);
            r->has_aggregate = 1;
            t->phase = FEDSHARE_PHASE_DECRYPT;
            return put_round(x, id, t->round, r);
        case FEDSHARE_OP_AGGREGATE_CHECK:
            if (pi < 0)
                return FEDSHARE_E_ROLE;
            if (gone(t, (uint32_t)pi))
                return FEDSHARE_E_RETIRED;
            if (t->phase != FEDSHARE_PHASE_DECRYPT)
                return FEDSHARE_E_STATE;
            if (memcmp(p->hash, r->aggregate, 32))
                refuse_aggregate(t, r);
            else
                r->checked[pi] = 1;
            return put_round(x, id, t->round, r);
        case FEDSHARE_OP_DECRYPTION_SHARE: {
            /* Shares are taken from every holder, also once t are recorded: one
             * that does not verify must not keep the honest ones out. */
            if (t->phase != FEDSHARE_PHASE_DECRYPT && t->phase != FEDSHARE_PHASE_FINALIZE)
                return r->skipped ? FEDSHARE_E_TOO_FEW : FEDSHARE_E_STATE;
            if (accepted_updates(r) < t->min_updates)
                return FEDSHARE_E_TOO_FEW;
            fs_key *k = malloc(sizeof *k);
            if (!k)
                return FEDSHARE_E_NOMEM;
            int rc = fs_key_load(x->st, t->key_id, k);
            int holder = !rc && is_holder(k, x->sender);
            free(k);
            if (rc)
                return rc;
            if (!holder)
                return FEDSHARE_E_ROLE;
            for (uint32_t i = 0; i < r->n_shares; i++)
                if (!memcmp(r->share_holder[i], x->sender, 32))
                    return FEDSHARE_E_EXISTS;
            if (r->n_shares >= FS_HOLDERS_MAX)
                return FEDSHARE_E_STATE;
            if (memcmp(p->hash, r->aggregate, 32)) {
                /* the holder recomputed another sum: before t holders vouched for
                 * the recorded one, that refuses the aggregate; after, it is refused */
                if (t->phase == FEDSHARE_PHASE_FINALIZE)
                    return FEDSHARE_E_MISMATCH;
                refuse_aggregate(t, r);
            } else {
                memcpy(r->share_holder[r->n_shares], x->sender, 32);
                memcpy(r->share_blob[r->n_shares], p->hash2, 32);
                r->share_refused[r->n_shares] = 0;
                r->n_shares++;
                if (fs_round_good_shares(r) >= t->threshold)
                    t->phase = FEDSHARE_PHASE_FINALIZE;
            }
            return put_round(x, id, t->round, r);
        }
        case FEDSHARE_OP_SHARE_VERDICT: {
            /* The aggregator found a recorded share bad (blob missing, malformed,
             * or a proof that fails): the holder is named, the share no longer
             * counts. Only the aggregator, who could stall the round by silence
             * anyway, may judge shares (docs/fedshare-contracts.md). */
            if (memcmp(x->sender, t->aggregator, 32))
                return FEDSHARE_E_ROLE;
            if (t->phase != FEDSHARE_PHASE_DECRYPT && t->phase != FEDSHARE_PHASE_FINALIZE)
                return FEDSHARE_E_STATE;
            uint32_t i = 0;
            while (i < r->n_shares && (memcmp(r->share_holder[i], p->hash, 32) ||
                                       memcmp(r->share_blob[i], p->hash2, 32)))
                i++;
            if (i == r->n_shares)
                return FEDSHARE_E_NOT_FOUND;
            if (r->share_refused[i]) /* one verdict per share */
                return FEDSHARE_E_EXISTS;
            if (p->verdict == FS_SHARE_VERIFIED) {
                r->share_refused[i] = FS_SHARE_VERIFIED;
                return put_round(x, id, t->round, r);
            }
            int rc = fs_index(x, FEDSHARE_TRACE_MEMBER, r->share_holder[i]);
            if (rc)
                return rc;
            r->share_refused[i] = FS_SHARE_REFUSED;
            if (fs_round_good_shares(r) < t->threshold)
                t->phase = FEDSHARE_PHASE_DECRYPT;
            return put_round(x, id, t->round, r);
        }
        case FEDSHARE_OP_SUM_REFUSED: {
            /* The aggregator decrypted the recorded aggregate with t good shares
             * and found a slot outside [0, 2·Q·W] (W = the accepted weight): a
             * member wrote past its slots. The sum is not used; the round is
             * refused like a skipped one and the global model stays. Only the
             * aggregator may say so (it could stall the round by silence
             * anyway); anyone can check it from the recorded shares
             * (docs/threat-model.md). */
            if (memcmp(x->sender, t->aggregator, 32))
                return FEDSHARE_E_ROLE;
            if (t->phase != FEDSHARE_PHASE_FINALIZE)
                return FEDSHARE_E_STATE;
            if (memcmp(p->hash, r->aggregate, 32))
                return FEDSHARE_E_MISMATCH;
            r->sum_refused = 1;
            int rc = put_round(x, id, t->round, r);
            if (rc)
                return rc;
            if (t->round >= t->round_limit) { /* a refused round counts toward the limit */
                t->phase = FEDSHARE_PHASE_DONE;
                t->stop_reason = FEDAVG_STOP_LIMIT;
                return FEDSHARE_OK;
            }
            return open_round(x, id, t, r);
        }
        case FEDSHARE_OP_ROUND_FINALIZE: {
            if (memcmp(x->sender, t->aggregator, 32))
                return FEDSHARE_E_ROLE;
            if (t->phase != FEDSHARE_PHASE_FINALIZE)
                return FEDSHARE_E_STATE;
            /* x_r goes with g_r exactly when the task has a server optimizer */
            if (!p->has_server != !t->server_opt)
                return FEDSHARE_E_INVALID;
            if (fedavg_param_id(t->model_id, 32, t->round, x->tx_sig, 64, r->param_id) != FEDAVG_OK)
                return FEDSHARE_E_CRYPTO;
            memcpy(r->model, p->hash, 32);
            memcpy(r->delta, p->hash2, 32);
            r->has_model = 1;
            r->has_server = p->has_server;
            if (p->has_server)
                memcpy(r->server_model, p->hash3, 32);
            t->phase = FEDSHARE_PHASE_EVALUATE;
            return put_round(x, id, t->round, r);
        }
        case FEDSHARE_OP_EVALUATION: {
            if (pi < 0)
                return FEDSHARE_E_ROLE;
            if (gone(t, (uint32_t)pi))
                return FEDSHARE_E_RETIRED;
            if (t->phase != FEDSHARE_PHASE_EVALUATE)
                return FEDSHARE_E_STATE;
            if (r->evaluated[pi])
                return FEDSHARE_E_EXISTS;
            /* the model evaluated: g_r, or x_r with a server optimizer */
            const uint8_t *named = t->server_opt ? r->server_model : r->model;
            if (memcmp(p->hash, named, 32)) { /* not what the shares (and replay) give */
                r->has_model = 0;
                r->has_server = 0;
                r->disputes++;
                memset(r->evaluated, 0, sizeof r->evaluated);
                r->metric_sum = 0;
                r->samples = 0;
                t->phase = FEDSHARE_PHASE_FINALIZE;
                return put_round(x, id, t->round, r);
            }
            /* bounded by the decoder (|metric| ≤ 1e6, samples ≤ 2^30, ≤ 64 of them), so
             * the sum stays finite; checked again before anything is written */
            if (!isfinite(p->x) || p->x < -FS_METRIC_MAX || p->x > FS_METRIC_MAX || !p->samples ||
                p->samples > FS_SAMPLES_MAX)
                return FEDSHARE_E_INVALID;
            double sum = r->metric_sum + p->x * (double)p->samples;
            if (!isfinite(sum))
                return FEDSHARE_E_INVALID;
            r->evaluated[pi] = 1;
            r->metric_sum = sum;
            r->samples += p->samples;
            if (!all_evaluated(t, r))
                return put_round(x, id, t->round, r);
            return finish_round(x, id, t, r);
        }
        default:
            return FEDSHARE_E_INVALID;
    }
}

int fs_training_apply(fs_exec *x, const fs_payload *p) {
    fs_task *t = malloc(sizeof *t);
    fs_round *r = malloc(sizeof *r);
    int rc = t && r ? FEDSHARE_OK : FEDSHARE_E_NOMEM;
    if (rc)
        goto out;
    if (p->op == FEDSHARE_OP_TASK_CREATE) {
        rc = task_create(x, p, t);
        goto out;
    }
    const uint8_t *v;
    size_t n;
    rc = fs_get(x->st, FEDSHARE_REC_TASK, p->id, NULL, 0, &v, &n);
    if (!rc)
        rc = fs_task_decode(v, n, t);
    if (rc)
        goto out;
    /* a participant that left the task (retired): its own acts are refused whatever the
     * round or phase, so it learns why */
    if (p->op == FEDSHARE_OP_TASK_JOIN || p->op == FEDSHARE_OP_UPDATE_UPLOAD ||
        p->op == FEDSHARE_OP_AGGREGATE_CHECK || p->op == FEDSHARE_OP_EVALUATION) {
        int pi = participant_index(t, x->sender);
        if (pi >= 0 && gone(t, (uint32_t)pi)) {
            rc = FEDSHARE_E_RETIRED;
            goto out;
        }
    }
    if (p->op == FEDSHARE_OP_TASK_JOIN) {
        int pi = participant_index(t, x->sender);
        if (pi < 0)
            rc = FEDSHARE_E_ROLE;
        else if (t->phase != FEDSHARE_PHASE_JOINING)
            rc = FEDSHARE_E_STATE;
        else if (gone(t, (uint32_t)pi))
            rc = FEDSHARE_E_RETIRED;
        else if (t->p[pi].joined & FS_P_JOINED)
            rc = FEDSHARE_E_EXISTS;
        else {
            t->p[pi].joined |= FS_P_JOINED;
            if (all_joined(t))
                rc = open_round(x, p->id, t, r);
            if (!rc)
                rc = flush_rounds(x, p->id, t);
        }
    } else {
        /* a share for a round skipped for too few accepted updates: say why */
        if (p->op == FEDSHARE_OP_DECRYPTION_SHARE && p->round && p->round <= t->round &&
            fs_get(x->st, FEDSHARE_REC_ROUND, p->id, NULL, p->round, &v, &n) == FEDSHARE_OK &&
            fs_round_decode(v, n, r) == FEDSHARE_OK && r->skipped) {
            rc = FEDSHARE_E_TOO_FEW;
            goto out;
        }
        if (t->phase == FEDSHARE_PHASE_DONE || t->phase == FEDSHARE_PHASE_JOINING)
            rc = FEDSHARE_E_STATE;
        else if (p->round != t->round)
            rc = FEDSHARE_E_STATE;
        else {
            rc = fs_get(x->st, FEDSHARE_REC_ROUND, p->id, NULL, t->round, &v, &n);
            if (!rc)
                rc = fs_round_decode(v, n, r);
            if (!rc)
                rc = round_act(x, p, t, r);
            if (!rc)
                rc = flush_rounds(x, p->id, t);
        }
    }
    if (!rc) {
        rc = fs_index(x, FEDSHARE_TRACE_TASK, p->id);
        for (uint32_t i = 0; !rc && i < t->n; i++)
            rc = fs_index(x, FEDSHARE_TRACE_DATA, t->p[i].data_id);
    }
out:
    drop_rounds(x);
    free(t);
    free(r);
    return rc;
}

/* The anomaly history forgets a participant that left: its entries would
 * otherwise stay in the reference of the remaining participants' rounds. */
static void forget_history(fs_task *t, uint32_t pi) {
    uint32_t k = 0;
    for (uint32_t j = 0; j < t->n_hist; j++) {
        if (t->hist_member[j] == pi)
            continue;
        t->hist_member[k] = t->hist_member[j];
        t->hist[2 * k] = t->hist[2 * j];
        t->hist[2 * k + 1] = t->hist[2 * j + 1];
        k++;
    }
    t->n_hist = k;
}

/* The retirement of key was decided (in this act): the task goes on without it
 * from now on. While joining, the task no longer waits for its join. In the
 * upload phase its update of the round, if any, is dropped and the round
 * closes as soon as every remaining participant has uploaded; once the round's
 * updates were judged (aggregate … evaluate) the round completes with its
 * update in the sum but waits no longer for its check or evaluation. Its
 * entries leave the anomaly history. docs/fedshare-contracts.md §Membership. */
int fs_task_member_left(fs_exec *x, const uint8_t id[32], const uint8_t key[32]) {
    fs_task *t = malloc(sizeof *t);
    fs_round *r = malloc(sizeof *r);
    int rc = t && r ? FEDSHARE_OK : FEDSHARE_E_NOMEM, pi = -1;
    const uint8_t *v;
    size_t n;
    if (!rc)
        rc = fs_get(x->st, FEDSHARE_REC_TASK, id, NULL, 0, &v, &n);
    if (!rc && fs_task_decode(v, n, t))
        goto out; /* not a task record of ours */
    if (!rc && t->phase != FEDSHARE_PHASE_DONE)
        pi = participant_index(t, key);
    if (rc || pi < 0 || gone(t, (uint32_t)pi))
        goto out;
    t->p[pi].joined |= FS_P_LEFT;
    forget_history(t, (uint32_t)pi);
    if (t->phase == FEDSHARE_PHASE_JOINING) {
        if (all_joined(t))
            rc = open_round(x, id, t, r);
    } else {
        rc = fs_get(x->st, FEDSHARE_REC_ROUND, id, NULL, t->round, &v, &n);
        if (!rc)
            rc = fs_round_decode(v, n, r);
        if (!rc && t->phase == FEDSHARE_PHASE_UPLOAD) {
            memset(&r->up[pi], 0, sizeof r->up[pi]);
            rc = all_uploaded(t, r) ? close_uploads(x, id, t, r) : put_round(x, id, t->round, r);
        } else if (!rc && t->phase == FEDSHARE_PHASE_EVALUATE && all_evaluated(t, r))
            rc = finish_round(x, id, t, r);
    }
    if (!rc)
        rc = flush_rounds(x, id, t);
    if (!rc)
        rc = fs_index(x, FEDSHARE_TRACE_TASK, id);
out:
    drop_rounds(x);
    free(t);
    free(r);
    return rc;
}
