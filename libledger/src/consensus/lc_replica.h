/* Internal: one PBFT replica (normal case, checkpoints, catch-up, view
 * change), driven by the transport loop (lc_net) on one thread, and bound to
 * the store through lc_store_ops. Not installed. */
#ifndef LC_REPLICA_H
#define LC_REPLICA_H

#include <stddef.h>
#include <stdint.h>

#include "lc_log.h"
#include "lc_msg.h"
#include "lc_net.h"

/* What the replica needs of the store and the application. */
typedef struct {
    void *ctx;
    /* Decode, verify the signature of, and check (application) each of n
     * client transactions; status[i] = 0 or a negative code. */
    void (*check_txs)(void *ctx, const uint8_t *const *tx, const size_t *len, size_t n,
                      int *status);
    /* The committed tip: height (0 = empty), header hash, timestamp. */
    void (*tip)(void *ctx, uint64_t *height, uint8_t hash[32], uint64_t *ts_ms);
    /* Build the block of proposal pr on the tip, verify its transactions and
     * execute it without committing; *blk is an opaque handle. */
    int (*prepare)(void *ctx, const lc_proposal *pr, void **blk, uint8_t header_hash[32]);
    /* Append a prepared block with its certificate (k signers of view). */
    int (*commit)(void *ctx, void *blk, uint64_t view, const uint32_t *signers,
                  const uint8_t (*sigs)[64], size_t k);
    void (*drop)(void *ctx, void *blk);
    /* Where a committed transaction is: 0, or negative when unknown. */
    int (*find_tx)(void *ctx, const uint8_t hash[32], uint64_t *height, uint32_t *index,
                   int32_t *status, uint8_t block_hash[32]);
    /* Status of a committed transaction (0 applied, else the rejection code). */
    int32_t (*tx_status)(void *ctx, const uint8_t hash[32]);
    /* Encoded committed block with certificate (freed with free()). */
    int (*get_block)(void *ctx, uint64_t height, uint8_t **enc, size_t *n);
    /* Verify and append a block fetched from a peer. */
    int (*put_block)(void *ctx, const uint8_t *enc, size_t n);
    /* Verify a certificate (encoded) for a header hash at height. */
    int (*check_cert)(void *ctx, uint64_t height, const uint8_t header_hash[32],
                      const uint8_t *cert, size_t n);
    /* Encoded certificate of the committed block at height (freed with free()). */
    int (*get_cert)(void *ctx, uint64_t height, uint8_t **enc, size_t *n);
    /* A client read: kind and argument; *out malloc()ed. */
    int (*query)(void *ctx, uint8_t kind, const uint8_t *arg, size_t n, uint8_t **out,
                 size_t *outn);
    /* Header hash of the committed block at height. */
    int (*hash_at)(void *ctx, uint64_t height, uint8_t hash[32]);
    /* The members in force at height (bit j: replica j) and their f, as the
     * chain says (heights above the tip + 2: the latest known). NULL: every
     * configured replica, the configured f (a static membership). */
    int (*members)(void *ctx, uint64_t height, uint64_t *mask, uint32_t *f);
    /* Snapshots (ledger/snapshot.h, docs/ledger-protocol.md §Snapshot
     * catch-up); any of them NULL: none served and none used. */
    /* After executing a multiple of K: pin the state at the tip. */
    void (*snap_pin)(void *ctx);
    /* Pinned snapshot `which` (0 the latest, 1 the one before): its height,
     * header hash and digest; negative when there is none. */
    int (*snap_offer)(void *ctx, int which, uint64_t *height, uint8_t hash[32], uint8_t digest[32]);
    /* The base block (kind LC_SNAP_BLOCK) or a chunk of a pinned snapshot;
     * *out malloc()ed; negative when that snapshot is no longer pinned. */
    int (*snap_get)(void *ctx, uint8_t kind, uint64_t height, uint64_t index, const uint8_t *resume,
                    size_t rlen, uint8_t **out, size_t *n);
    /* Import into the empty store: begin (or resume) with the base block,
     * which must hash to `hash`, and the trusted digest; what to ask next;
     * stage a chunk; install. */
    int (*snap_begin)(void *ctx, const uint8_t *block, size_t n, const uint8_t hash[32],
                      const uint8_t digest[32]);
    int (*snap_next)(void *ctx, uint64_t *index, uint8_t *resume, size_t *rlen, int *complete);
    int (*snap_chunk)(void *ctx, const uint8_t *chunk, size_t n);
    int (*snap_finish)(void *ctx);
    /* Headers below a snapshot-started store's base: the header and
     * certificate of a height (malloc'd; negative when not held); the lowest
     * height whose header the store holds (1: all); add the one below it. */
    int (*hdr_get)(void *ctx, uint64_t height, uint8_t **hdr, size_t *hl, uint8_t **cert,
                   size_t *cl);
    int (*hdr_lowest)(void *ctx, uint64_t *lowest);
    int (*hdr_put)(void *ctx, const uint8_t *hdr, size_t hl, const uint8_t *cert, size_t cl);
} lc_store_ops;

/* Largest checkpoint interval K (the log holds at least 2K entries). */
#define LC_MAX_CHECKPOINT_EVERY 1024

typedef struct {
    /* n: configured replica slots (ids 0 … n−1), a superset of the members in
     * force at any height (ops.members); f: the genesis f */
    uint32_t n, f, self;
    uint8_t (*pks)[32];
    uint8_t sk[64];
    uint8_t chain_id[32];
    uint32_t block_period_ms;  /* cut a block when the oldest request waited this long */
    uint32_t max_block_txs;    /* or when this many are waiting */
    size_t max_block_bytes;    /* or this many bytes */
    uint32_t max_inflight;     /* proposals in flight at once (≤ 64; 0: 4) */
    uint32_t checkpoint_every; /* K (≤ LC_MAX_CHECKPOINT_EVERY; 0: 32) */
    uint32_t view_timeout_ms;  /* first view-change timeout (doubles per failed view) */
    uint32_t max_clock_skew_ms;
    int equivocate; /* test builds: a byzantine primary sends different proposals */
    lc_logger log;  /* view changes, fetches, failed commits (the node's log callback) */
} lc_replica_cfg;

typedef struct lc_replica lc_replica;

int lc_replica_create(lc_replica **out, const lc_replica_cfg *cfg, const lc_store_ops *ops);
void lc_replica_free(lc_replica *r);
/* The transport handler that drives the replica. */
void lc_replica_handler(lc_replica *r, lc_net_handler *h);
void lc_replica_attach(lc_replica *r, lc_net *net);
uint64_t lc_replica_view(const lc_replica *r);
uint64_t lc_replica_height(const lc_replica *r);
/* The consensus log, for tests and status: low water mark h (the stable
 * checkpoint), high water mark H = h + L, and how many entries the log holds
 * (each at most one sequence in (h, H]). Loop thread, or after the loop stopped. */
void lc_replica_log_info(const lc_replica *r, uint64_t *low, uint64_t *high, uint32_t *entries);
/* Snapshots this replica installed (0 or 1 per store) and chunks it staged. */
void lc_replica_snapshot_info(const lc_replica *r, uint64_t *installed_height, uint64_t *chunks);

/* Query kinds (client reads served by a replica). */
enum {
    LC_Q_BLOCK = 1,      /* arg: u64 height → encoded block */
    LC_Q_TX = 2,         /* arg: tx hash → encoded tx */
    LC_Q_STATE = 3,      /* arg: key → value */
    LC_Q_TRACE = 4,      /* arg: u16 op ‖ key → trace encoding */
    LC_Q_BLOB_PUT = 5,   /* unsigned blob put: refused (LEDGER_E_BLOB_ANONYMOUS) */
    LC_Q_BLOB_GET = 6,   /* arg: hash → bytes */
    LC_Q_PROOF = 7,      /* arg: tx hash → encoded proof */
    LC_Q_TIP = 8,        /* arg: none → u64 height ‖ hash ‖ u64 ts */
    LC_Q_APP = 9,        /* arg: application query bytes */
    LC_Q_TRACE_TIME = 10 /* arg: u64 from_ms ‖ u64 to_ms → trace encoding */
};
/* arg: u64 height → encoding of the membership in force at that height (ledger/reconfig.h) */
#define LC_Q_MEMBERSHIP 12
/* arg: u64 after ‖ u64 upto → the membership changes taking force in (after,
 * min(upto, tip)] with the certified header of that block (internal.h,
 * ldg_changes_answer); the client verifies them from a membership it knows */
#define LC_Q_CHANGES 13
/* Signed blob put (kind 5, the unsigned form, is refused with
 * LEDGER_E_BLOB_ANONYMOUS): arg u8 version ‖ putter[32] ‖ sig[64] ‖ blob → hash. */
#define LC_Q_SIGNED_PUT     11
#define LC_BLOB_PUT_VERSION 1
#define LC_BLOB_PUT_HEADER  97 /* version, putter key, signature */

/* Flags in the kind byte of a QUERY (docs/formats/ledger-consensus.md): with
 * either, a u64 minimum height precedes the argument, the replica answers once
 * it has executed that height, and the answer ends with its executed height. */
#define LC_QF_AT_HEIGHT    0x80u
#define LC_QF_LINEARIZABLE 0x40u /* also after every block it voted to commit */
#define LC_QF_MASK         (LC_QF_AT_HEIGHT | LC_QF_LINEARIZABLE)

#endif

#ifdef LEDGER_FAULT_INJECTION
void lc_replica_set_equivocate(lc_replica *r, int on);
/* Kill the process (SIGKILL) right after staging this many snapshot chunks (0: never). */
void lc_replica_set_snapshot_kill(lc_replica *r, uint64_t after_chunks);
/* Serve this many snapshot chunks with their last byte flipped (0: none). */
void lc_replica_set_snapshot_corrupt(lc_replica *r, uint64_t chunks);
/* Trace validation (docs/formal.md §Trace validation): each protocol event
 * of the replica becomes one text line (no newline) passed to fn on the
 * replica's loop thread; the first is a "start" line with its state now.
 * NULL fn: no trace. Call before the loop runs, or from the loop thread. */
void lc_replica_set_trace(lc_replica *r, void (*fn)(void *ctx, const char *line), void *ctx);
/* An injected fault for the trace checker's broken twin: the replica sends
 * COMMIT for a slot as soon as it holds its pre-prepare, before it is
 * prepared (2f matching prepares). */
void lc_replica_set_commit_early(lc_replica *r, int on);
#endif
