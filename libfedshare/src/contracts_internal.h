/* Internal shapes of the contracts: decoded payloads (borrowing the payload's
 * bytes) and the task and round records they read and rewrite. */
#ifndef FS_CONTRACTS_INTERNAL_H
#define FS_CONTRACTS_INTERNAL_H

#include "fedshare/contracts.h"
#include "fs_codec.h"

#define FS_PAYLOAD_VERSION 1
#define FS_RECORD_VERSION  1
/* TASK_CREATE payloads and TASK/ROUND records are at version 2 (a task's
 * minimum of accepted updates, share verdicts, skipped rounds); their
 * decoders still read version 1 (docs/formats/fedshare.md). */
/* Version 4 of TASK_CREATE and of the TASK and ROUND records (a server
 * optimizer and x_r) is written only for a task with a server optimizer; a
 * FedAvg task keeps version 3 byte for byte. */
#define FS_TASK_CREATE_VERSION 4
/* KEY_RECORD payloads and KEY records at version 2 carry how the key was made
 * (and a dealerless key's attestations); version 1 still decodes (dealt). */
#define FS_KEY_VERSION          2
#define FS_TASK_RECORD_VERSION  4
#define FS_ROUND_RECORD_VERSION 4 /* 3: the sum-refused byte; 4: x_r */
#define FS_LABEL_MAX            64
#define FS_DESC_MAX             1024
#define FS_LINEAGE_MAX          64
#define FS_PARTICIPANTS_MAX     64
#define FS_HOLDERS_MAX          64
/* The aggregator's verdicts on a recorded share (fs_round.share_refused). */
#define FS_SHARE_REFUSED  1 /* bad: no longer counts, the holder is named */
#define FS_SHARE_VERIFIED 2 /* its batch proof verified: others may skip the check */
#define FS_POLICY_MAX     (1u << 20)
#define FS_PARAMS_MAX     (1u << 20)
#define FS_CODEC_MAX      256
/* Bounds of an EVALUATION: with at most 64 participants the weighted sum
 * stays below 64 × 1e6 × 2^30 ≈ 6.9e16, finite and exact enough. */
#define FS_METRIC_MAX  1e6
#define FS_SAMPLES_MAX (1u << 30)
/* Bound of an update's norm and of its ratio to the round's median norm (the
 * anomaly statistic kept in the task's history): finite by construction. */
#define FS_NORM_MAX  1e12
#define FS_RATIO_MAX 1e6

/* The minimum of accepted updates a round needs before its sum is decrypted:
 * the task's own (2 … n), or by default 3 when n ≥ 3, else 2. */
static inline uint32_t fs_default_min_updates(uint32_t n) {
    return n >= 3 ? 3 : 2;
}

typedef struct fs_payload {
    uint16_t op;
    const uint8_t *id;    /* data ID, task ID (32) */
    const uint8_t *hash;  /* enc hash, blob hash, structure hash, aggregate hash … (32) */
    const uint8_t *hash2; /* second hash: model digest, share hash, delta hash (32) */
    const uint8_t *hash3; /* ROUND_FINALIZE with a server optimizer: x_r's digest (32) */
    uint8_t has_server;
    const uint8_t *bytes; /* policy, update, params, codec */
    size_t bytes_len;
    const uint8_t *list;  /* lineage (n×32), holders (n×32), participants (n×64: pk ‖ data) */
    const uint8_t *list2; /* share hashes (n×32) */
    size_t n;
    char *label, *text, *text2; /* label/action, description/purpose (owned; fs_payload_free) */
    uint64_t t0, t1, count;
    uint32_t round, weight, uses, samples;
    uint8_t verdict;     /* SHARE_VERDICT: FS_SHARE_REFUSED or FS_SHARE_VERIFIED */
    uint8_t version;     /* the payload's format version */
    uint8_t method;      /* KEY_RECORD: FEDSHARE_KEY_DEALT or FEDSHARE_KEY_DEALERLESS */
    const uint8_t *sigs; /* KEY_RECORD, dealerless: n × 64 attestations */
    double x, y;         /* norm and cosine; metric */
    fedshare_task_spec spec;
    /* MEMBER_PROPOSE: method is the change kind, hash the member's key, uses its roles,
     * label its name, text its organisation; MEMBER_APPROVE: count is the change id */
    uint32_t ncred;
    char creds[16][65];
} fs_payload;

/* A name, organisation or credential: 1…64 of [A-Za-z0-9._:-] (consortium.c). */
int fs_word_ok(const char *s, size_t len);

/* One member of the membership recorded on the chain (FEDSHARE_REC_MEMBERS):
 * its roles and status before and from the height `since` (docs/formats/fedshare.md
 * §Membership). */
#define FS_CRED_MAX 16
enum { FS_MEMBER_NONE = 0, FS_MEMBER_ACTIVE = 1, FS_MEMBER_RETIRED = 2 };
typedef struct fs_mentry {
    uint8_t key[32];
    char name[FEDSHARE_NAME_MAX + 1], org[FEDSHARE_NAME_MAX + 1];
    uint32_t ncred;
    char cred[FS_CRED_MAX][FEDSHARE_NAME_MAX + 1];
    uint32_t roles0, roles; /* before since, from since on */
    uint8_t status0, status;
    uint64_t since;
} fs_mentry;

typedef struct fs_mset {
    uint64_t last_id, open_id; /* last proposal id; the open one (0: none) */
    uint32_t n;
    fs_mentry e[FEDSHARE_MEMBERS_MAX];
} fs_mset;

/* The configuration's members as a membership in force from genesis (consortium.c). */
void fs_mset_from_config(const fedshare_consortium *c, fs_mset *m);
/* The active members at height h as a consortium (roles in force), or NULL (no memory). */
fedshare_consortium *fs_consortium_in_force(const fs_mset *m, uint64_t h);

/* A membership change proposal (FEDSHARE_REC_MEMBER_CHANGE). */
enum { FS_CHANGE_OPEN = 0, FS_CHANGE_APPROVED = 1, FS_CHANGE_EXPIRED = 2 };
typedef struct fs_mchange {
    uint64_t id;
    uint8_t kind;
    uint8_t key[32];
    uint32_t roles;
    char name[FEDSHARE_NAME_MAX + 1], org[FEDSHARE_NAME_MAX + 1];
    uint32_t ncred;
    char cred[FS_CRED_MAX][FEDSHARE_NAME_MAX + 1];
    uint64_t proposed_at, decided_at, effective;
    uint8_t status;
    uint32_t n_approvals;
    uint8_t approvals[FEDSHARE_MEMBERS_MAX][32];
} fs_mchange;

/* Canonical encodings (members.c; docs/formats/fedshare.md §Membership). */
void fs_mset_encode(const fs_mset *m, fs_writer *w);
int fs_mset_decode(const uint8_t *v, size_t n, fs_mset *m);
void fs_mchange_encode(const fs_mchange *c, fs_writer *w);
int fs_mchange_decode(const uint8_t *v, size_t n, fs_mchange *c);
/* Entry i's roles and status at height h. */
static inline uint32_t fs_mentry_roles(const fs_mentry *e, uint64_t h) {
    return h >= e->since ? e->roles : e->roles0;
}
static inline uint8_t fs_mentry_status(const fs_mentry *e, uint64_t h) {
    return h >= e->since ? e->status : e->status0;
}

/* The server optimizer and its numbers are acceptable (payloads.c). */
int fs_server_ok(uint32_t opt, double eta, double b1, double b2, double tau);

int fs_payload_decode(uint16_t op, const uint8_t *p, size_t len, fs_payload *out);
void fs_payload_free(fs_payload *p);

/* Member index of the sender and its roles, or FEDSHARE_E_NOT_MEMBER. */
int fs_require_role(const fedshare_consortium *c, const uint8_t sender[32], uint32_t role);

/* ---- Records ---- */

/* fs_participant.joined: flags. FS_P_LEFT: the participant was retired from the
 * consortium while the task was in progress; the task goes on without it. */
#define FS_P_JOINED 1
#define FS_P_LEFT   2
typedef struct fs_participant {
    uint8_t pk[32], data_id[32];
    uint8_t joined; /* FS_P_JOINED | FS_P_LEFT */
} fs_participant;

typedef struct fs_task {
    uint8_t creator[32], model_id[32], key_id[32], aggregator[32];
    uint32_t n;
    fs_participant p[FS_PARTICIPANTS_MAX];
    double lr, stop_threshold, anomaly_k;
    uint32_t batch, upload_every, round_limit, stop_patience, anomaly_warmup;
    uint32_t min_updates; /* accepted updates a round needs to be decrypted */
    uint8_t codec[FS_CODEC_MAX];
    uint32_t codec_len;
    uint32_t threshold;  /* t of the key */
    uint32_t max_weight; /* M of the codec */
    uint8_t phase;
    uint8_t stop_reason; /* FEDAVG_STOP_* once done */
    uint32_t round;      /* current round, 1-based (0 while joining) */
    uint8_t global[32];  /* digest of the last finalized global model (initial: the model's) */
    uint32_t n_metrics;
    double metrics[1000]; /* metric of each finalized round */
    uint32_t n_hist;      /* accepted statistics history (2 per update) */
    double hist[2 * 1024];
    uint8_t hist_member[1024]; /* participant index of each entry (0xFF: unknown, record v1/v2) */
    uint32_t anomaly_rule;     /* FEDAVG_RULE_* (record v1/v2: FEDAVG_RULE_POOLED) */
    /* record v4 (only with a server optimizer): FEDSHARE_SERVER_*, its numbers,
     * and x of the last finished round (initial: the model's digest) */
    uint32_t server_opt;
    double server_eta, server_beta1, server_beta2, server_tau;
    uint8_t server_global[32];
} fs_task;

typedef struct fs_upload {
    uint8_t blob[32];
    uint32_t weight;
    double norm, cosine;
    uint8_t present, verdict;
} fs_upload;

typedef struct fs_round {
    uint32_t n; /* participants */
    fs_upload up[FS_PARTICIPANTS_MAX];
    uint64_t total_weight; /* of accepted updates */
    uint8_t aggregate[32];
    uint8_t has_aggregate;
    uint32_t refused;                     /* aggregates refused so far this round */
    uint8_t checked[FS_PARTICIPANTS_MAX]; /* participant confirmed the aggregate */
    uint32_t n_shares;
    uint8_t share_holder[FS_HOLDERS_MAX][32];
    uint8_t share_blob[FS_HOLDERS_MAX][32];
    uint8_t share_refused[FS_HOLDERS_MAX]; /* the aggregator's verdict: 0 none, FS_SHARE_* */
    uint8_t skipped;                       /* fewer accepted updates than the minimum */
    uint8_t model[32], delta[32], param_id[32];
    uint8_t has_model;
    uint32_t disputes; /* finalized models refused by an evaluation */
    uint8_t evaluated[FS_PARTICIPANTS_MAX];
    double metric_sum;
    uint64_t samples;
    uint8_t sum_refused; /* the decrypted sum was out of range (SUM_REFUSED) */
    uint8_t has_server;  /* record v4: x_r's digest (with has_model) */
    uint8_t server_model[32];
} fs_round;

int fs_task_encode(const fs_task *t, fs_writer *w);
int fs_task_decode(const uint8_t *p, size_t len, fs_task *t);
int fs_round_encode(const fs_round *r, fs_writer *w);
int fs_round_decode(const uint8_t *p, size_t len, fs_round *r);
/* Shares of the round not refused by a verdict. */
uint32_t fs_round_good_shares(const fs_round *r);

#endif
