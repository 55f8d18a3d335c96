/* Shared inside the contracts: the application, one act being applied, and
 * the records several contracts read. */
#ifndef FS_APP_INTERNAL_H
#define FS_APP_INTERNAL_H

#include <pthread.h>

#include "contracts_internal.h"

struct fedshare_app {
    fedshare_consortium *c;
    uint8_t chash[32];
    ledger_app table;
    /* The latest membership the chain records (all changes applied, pending ones too),
     * for decisions outside consensus such as who may put blobs; NULL until a MEMBERS
     * record was read. Keyed by (last change id, open change id), which identify the
     * record's content. */
    pthread_mutex_t mu;
    fedshare_consortium *latest;
    uint64_t latest_last, latest_open;
};

/* Is key a member by the latest membership this app has read from the chain: 1 yes,
 * 0 no, -1 unknown (no MEMBERS record read yet: the configuration decides). */
int fs_app_latest_member(fedshare_app *a, const uint8_t key[32]);

/* One transaction being applied. */
typedef struct fs_exec {
    fedshare_app *app;
    const fedshare_consortium *c; /* the members in force at the block */
    ledger_state *st;
    const uint8_t *sender;  /* 32 */
    const uint8_t *tx_hash; /* 32 */
    const uint8_t *tx_sig;  /* 64 */
    uint64_t timestamp;     /* consensus time, ms */
    uint64_t height;
    /* training: round records encoded but not yet written; they are written
     * with the task record, and only if every one of them encoded */
    fs_writer pend[3];
    uint32_t pend_round[3];
    int n_pend;
} fs_exec;

enum { FS_DATA_ACTIVE = 1, FS_DATA_RETIRED = 2 };

typedef struct fs_data {
    uint8_t owner[32], enc_hash[32];
    uint64_t timestamp, height, uses;
    char label[FS_LABEL_MAX + 1];
    char description[FS_DESC_MAX + 1];
    uint32_t n_lineage;
    uint8_t lineage[FS_LINEAGE_MAX][32];
    uint8_t status;
} fs_data;

typedef struct fs_key {
    uint8_t dealer[32];
    uint32_t threshold, n;
    uint8_t holders[FS_HOLDERS_MAX][32];
    uint8_t shares[FS_HOLDERS_MAX][32];
    uint8_t method; /* FEDSHARE_KEY_DEALT (every version-1 record) or _DEALERLESS */
    uint8_t session[32], commitment[32];      /* dealerless only */
    uint8_t attestations[FS_HOLDERS_MAX][64]; /* dealerless only, share order */
} fs_key;

fedshare_consortium *fs_consortium_copy(const fedshare_consortium *c);
/* Read a configuration file (at most 1 MiB) into a new buffer. */
int fs_read_config(const char *path, char **buf, size_t *len);

int fs_get(ledger_state *st, int kind, const uint8_t id[32], const uint8_t *id2, uint32_t round,
           const uint8_t **val, size_t *vlen);
/* Store w's bytes under the record key and free w (also on error). */
int fs_put(ledger_state *st, int kind, const uint8_t id[32], const uint8_t *id2, uint32_t round,
           fs_writer *w);
int fs_index(fs_exec *x, uint16_t trace, const uint8_t key[32]);

int fs_data_decode(const uint8_t *v, size_t n, fs_data *d);
void fs_data_encode(const fs_data *d, fs_writer *w);
int fs_data_load(ledger_state *st, const uint8_t id[32], fs_data *d);
/* A key record's fields; *params points into v (may be NULL). */
int fs_key_decode(const uint8_t *v, size_t n, fs_key *k, const uint8_t **params,
                  size_t *params_len);
int fs_key_load(ledger_state *st, const uint8_t key_id[32], fs_key *k);

/* Walk the state records whose keys start with @p prefix, in key order: fn gets each
 * key and value (the value is valid until fn writes); a nonzero return stops the walk
 * and is returned (members.c). */
typedef int (*fs_scan_fn)(void *ctx, const uint8_t *key, size_t klen, const uint8_t *v,
                          size_t vlen);
int fs_state_scan(ledger_state *st, const char *prefix, fs_scan_fn fn, void *ctx);

/* Membership (members.c). Load the membership recorded on the chain; FEDSHARE_E_NOT_FOUND
 * when none is (the configuration's is in force). */
int fs_mset_load(ledger_state *st, fs_mset *m);
/* The members in force at height h: *owned is a new consortium (free it) when the chain
 * records the membership, else NULL and *c is the configuration's. */
int fs_members_at(fedshare_app *a, ledger_state *st, uint64_t h, const fedshare_consortium **c,
                  fedshare_consortium **owned);
/* FEDSHARE_E_RETIRED when the key belongs to a member retired at height h, else 0. */
int fs_member_retired(ledger_state *st, uint64_t h, const uint8_t key[32]);
/* Membership acts (MEMBER_PROPOSE, MEMBER_APPROVE). */
int fs_member_apply(fs_exec *x, const fs_payload *p);
/* Policy update signers (ABCU) against the members in force, once the chain records them. */
int fs_policy_signers_ok(fs_exec *x, const uint8_t *update, size_t len);

/* Training acts (task create … evaluation). */
int fs_training_apply(fs_exec *x, const fs_payload *p);
/* The retirement of @p key was decided: task @p task_id (if in progress and @p key one of
 * its participants) goes on without it (docs/fedshare-contracts.md §Membership). */
int fs_task_member_left(fs_exec *x, const uint8_t task_id[32], const uint8_t key[32]);

#endif
