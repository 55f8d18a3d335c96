/* Internal: the consensus messages of libledger's PBFT and their canonical
 * encodings (docs/formats/ledger-consensus.md). Decoders take untrusted bytes,
 * never read out of bounds, reject trailing bytes, and return pointers into
 * the input (no allocation) except where noted. Not installed. */
#ifndef LC_MSG_H
#define LC_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "lc_wire.h"

#define LC_SIG_BYTES    64
#define LC_PK_BYTES     32
#define LC_HASH_BYTES   32
#define LC_MAC_BYTES    32
#define LC_MAX_FRAME    (16u << 20) /* largest frame body accepted */
#define LC_MAX_TX       (1u << 20)  /* largest client transaction */
#define LC_MAX_TXS      65536       /* most transactions in one proposal */
#define LC_MAX_REPLICAS 64
#define LC_MSG_VERSION  1 /* proposal encoding */
#define LC_LINK_VERSION                                                                            \
    2 /* HELLO: the consensus message formats (2: VIEW-CHANGE with checkpoint) */
#define LC_CLIENT_ID 0xFFFFFFFFu /* HELLO id of a client connection */

/* Message types (the first byte of an authenticated frame body). */
enum {
    LC_T_HELLO = 1,
    LC_T_PREPREPARE = 2,
    LC_T_PREPARE = 3,
    LC_T_COMMIT = 4,
    LC_T_CHECKPOINT = 5,
    LC_T_VIEWCHANGE = 6,
    LC_T_NEWVIEW = 7,
    LC_T_REQUEST = 8,
    LC_T_REPLY = 9,
    LC_T_FETCH = 10,
    LC_T_BLOCKS = 11,
    LC_T_QUERY = 12,
    LC_T_QUERY_RESP = 13,
    LC_T_FOLLOW = 14,
    LC_T_NOTIFY = 15,
    LC_T_SNAP_REQ = 16,   /* snapshot catch-up: ask for offers */
    LC_T_SNAP_OFFER = 17, /* a signed offer of a pinned snapshot */
    LC_T_SNAP_GET = 18,   /* ask for the base block or one chunk */
    LC_T_SNAP_DATA = 19,  /* the answer */
    LC_T_HDR_GET = 20,    /* headers and certificates below a snapshot's base */
    LC_T_HDRS = 21,       /* the answer */
};

/* HELLO: the unauthenticated handshake frame. */
typedef struct {
    uint8_t role; /* 0 replica, 1 client */
    uint32_t id;  /* replica index, or LC_CLIENT_ID */
    uint8_t eph_pk[32];
    uint8_t sig[LC_SIG_BYTES]; /* replica: Ed25519 over the first 42 bytes; client: zero */
} lc_hello;
#define LC_HELLO_BYTES (4 + 1 + 1 + 4 + 32 + 64)
void lc_hello_encode(const lc_hello *h, uint8_t out[LC_HELLO_BYTES]);
int lc_hello_decode(lc_hello *h, const uint8_t *p, size_t n);
#define LC_HELLO_SIGNED_BYTES (4 + 1 + 1 + 4 + 32)

/* A proposal: the ordered content of one block, fixed once proposed so that
 * a block re-proposed after a view change is the same block. */
typedef struct {
    uint64_t height;
    uint64_t view;     /* view in which it was first proposed */
    uint32_t proposer; /* replica that first proposed it */
    uint64_t ts_ms;    /* consensus timestamp, ms since the Unix epoch */
    uint32_t ntx;
    const uint8_t *txs; /* ntx (u32 length, bytes) records, checked by the decoder */
    size_t txs_len;
} lc_proposal;
int lc_proposal_encode(lc_wr *w, const lc_proposal *pr, const uint8_t *const *tx,
                       const size_t *txlen);
int lc_proposal_decode(lc_proposal *pr, const uint8_t *p, size_t n);
/* Iterate a decoded proposal's transactions: *off starts at 0. */
int lc_proposal_next_tx(const lc_proposal *pr, size_t *off, const uint8_t **tx, size_t *len);

/* Signed consensus messages. `signed_len` is how many leading bytes of the
 * encoding the trailing signature covers (the whole message but the signature,
 * preceded by a domain tag, see lc_msg_sign). */
typedef struct {
    uint64_t view;
    uint64_t seq;
    uint8_t digest[32]; /* SHA-256 of the proposal bytes */
    const uint8_t *proposal;
    size_t proposal_len;
    uint8_t sig[LC_SIG_BYTES];
} lc_preprepare;

typedef struct {
    uint8_t type; /* LC_T_PREPARE or LC_T_COMMIT */
    uint64_t view;
    uint64_t seq;
    uint8_t digest[32];
    uint32_t replica;
    uint8_t sig[LC_SIG_BYTES]; /* prepare: over the message; commit: over the commit statement */
} lc_vote;

typedef struct {
    uint64_t seq;
    uint8_t block_hash[32];
    uint32_t replica;
    uint8_t sig[LC_SIG_BYTES];
} lc_checkpoint;

/* VIEW-CHANGE: replica moves to new_view; carries its last committed block's
 * certificate, its stable checkpoint with 2f+1 signed CHECKPOINTs, and for each
 * sequence above both that it prepared, the pre-prepare and 2f prepares. */
typedef struct {
    uint64_t new_view;
    uint64_t last_height;  /* highest committed block height at the sender */
    uint8_t last_hash[32]; /* its header hash (zero when last_height is 0) */
    const uint8_t *cert;   /* its encoded commit certificate (empty when 0) */
    size_t cert_len;
    uint64_t stable;         /* its stable checkpoint (low water mark), 0 if none */
    uint8_t stable_hash[32]; /* header hash of block `stable` (zero when 0) */
    uint32_t nckpt;          /* the proof: nckpt × var signed CHECKPOINT */
    const uint8_t *ckpts;
    size_t ckpts_len;
    uint32_t replica;
    uint32_t nprepared;
    const uint8_t *prepared; /* nprepared records: var preprepare, u32 k, k × var prepare */
    size_t prepared_len;
    uint8_t sig[LC_SIG_BYTES];
} lc_viewchange;

typedef struct {
    uint64_t view;
    uint32_t nvc;
    const uint8_t *vcs; /* nvc × var view-change */
    size_t vcs_len;
    uint32_t npp;
    const uint8_t *pps; /* npp × var pre-prepare */
    size_t pps_len;
    uint8_t sig[LC_SIG_BYTES];
} lc_newview;

typedef struct {
    uint8_t tx_hash[32];
    int32_t status;
    uint64_t height;
    uint32_t index;
    uint32_t replica;
    uint8_t block_hash[32];
} lc_reply;

/* Encoders write the message body without the type byte; `sk` signs it. */
int lc_preprepare_encode(lc_wr *w, uint64_t view, uint64_t seq, const uint8_t *proposal,
                         size_t proposal_len, const uint8_t sk[64]);
int lc_preprepare_decode(lc_preprepare *m, const uint8_t *p, size_t n);
int lc_preprepare_verify(const uint8_t *p, size_t n, const uint8_t pk[32]);

int lc_vote_encode(lc_wr *w, const lc_vote *v, const uint8_t sk[64]);
int lc_vote_decode(lc_vote *v, uint8_t type, const uint8_t *p, size_t n);
int lc_prepare_verify(const uint8_t *p, size_t n, const uint8_t pk[32]);

int lc_checkpoint_encode(lc_wr *w, const lc_checkpoint *c, const uint8_t sk[64]);
int lc_checkpoint_decode(lc_checkpoint *c, const uint8_t *p, size_t n);
int lc_checkpoint_verify(const uint8_t *p, size_t n, const uint8_t pk[32]);

int lc_viewchange_decode(lc_viewchange *m, const uint8_t *p, size_t n);
int lc_viewchange_verify(const uint8_t *p, size_t n, const uint8_t pk[32]);
int lc_newview_decode(lc_newview *m, const uint8_t *p, size_t n);
int lc_newview_verify(const uint8_t *p, size_t n, const uint8_t pk[32]);
/* Sign the message just written into w (from body_start) and append the signature. */
void lc_msg_sign(lc_wr *w, uint8_t type, size_t body_start, const uint8_t sk[64]);

void lc_reply_encode(lc_wr *w, const lc_reply *r);
int lc_reply_decode(lc_reply *r, const uint8_t *p, size_t n);

/* Snapshot catch-up (docs/formats/ledger-consensus.md §Snapshot messages). */
#define LC_SNAP_VERSION     1
#define LC_SNAP_BLOCK       0 /* SNAP_GET / SNAP_DATA kind: the block at the height */
#define LC_SNAP_CHUNK       1 /* kind: chunk `index` after `resume` */
#define LC_SNAP_RESUME_MAX  511
#define LC_SNAP_OFFER_BYTES (1 + 4 + 8 + 32 + 32 + 64)
typedef struct {
    uint32_t replica;
    uint64_t height;    /* a multiple of K the replica executed and pinned */
    uint8_t hash[32];   /* header hash of that block */
    uint8_t digest[32]; /* snapshot digest (ledger/snapshot.h) */
    uint8_t sig[LC_SIG_BYTES];
} lc_snap_offer;
int lc_snap_offer_encode(lc_wr *w, const lc_snap_offer *o, const uint8_t sk[64]);
int lc_snap_offer_decode(lc_snap_offer *o, const uint8_t *p, size_t n);
int lc_snap_offer_verify(const uint8_t *p, size_t n, const uint8_t pk[32]);
typedef struct {
    uint8_t kind; /* LC_SNAP_BLOCK or LC_SNAP_CHUNK */
    uint64_t height, index;
    const uint8_t *resume; /* chunk: the last key of chunk index − 1 (empty for 0) */
    size_t resume_len;
} lc_snap_get;
void lc_snap_get_encode(lc_wr *w, const lc_snap_get *g);
int lc_snap_get_decode(lc_snap_get *g, const uint8_t *p, size_t n);
typedef struct {
    uint8_t kind;
    uint64_t height, index;
    int32_t status; /* 0, or negative: the sender has no such snapshot any more */
    const uint8_t *data;
    size_t len;
} lc_snap_data;
void lc_snap_data_encode(lc_wr *w, const lc_snap_data *d);
int lc_snap_data_decode(lc_snap_data *d, const uint8_t *p, size_t n);

/* Headers below a snapshot's base, fetched downwards. */
#define LC_HDRS_MAX 256 /* headers per HDRS */
typedef struct {
    uint64_t top; /* the first (highest) height */
    uint32_t max;
} lc_hdr_get;
void lc_hdr_get_encode(lc_wr *w, const lc_hdr_get *g);
int lc_hdr_get_decode(lc_hdr_get *g, const uint8_t *p, size_t n);
typedef struct {
    uint64_t top;
    uint32_t k;          /* headers of heights top, top − 1, …, top − k + 1 */
    const uint8_t *recs; /* k × (var header ‖ var certificate) */
    size_t recs_len;
} lc_hdrs;
int lc_hdrs_decode(lc_hdrs *m, const uint8_t *p, size_t n);
/* Record i's header and certificate (call in order from off = 0). */
int lc_hdrs_next(const lc_hdrs *m, size_t *off, const uint8_t **hdr, size_t *hl,
                 const uint8_t **cert, size_t *cl);

/* Split a byte stream into frames (u32 big-endian body length ‖ body).
 * Returns 1 and the body when a whole frame starts at *off (advancing it), 0
 * when more bytes are needed, -1 when the length is 0 or above LC_MAX_FRAME. */
int lc_frame_next(const uint8_t *p, size_t n, size_t *off, const uint8_t **body, size_t *blen);

/* Iterate nested u32-length records. */
int lc_next_var(const uint8_t *p, size_t n, size_t *off, const uint8_t **rec, size_t *len);

#endif
