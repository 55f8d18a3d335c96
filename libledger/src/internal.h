/* libledger internals: byte helpers and object layouts. Never installed. */
#ifndef LEDGER_INTERNAL_H
#define LEDGER_INTERNAL_H

#include "ledger.h"

#include <stdlib.h>
#include <string.h>

#define LDG_TX_MAGIC    "LDTX"
#define LDG_BLOCK_MAGIC "LDBK"
#define LDG_HDR_MAGIC   "LDBH"
#define LDG_CERT_MAGIC  "LDCC"
#define LDG_MEMB_MAGIC  "LDMS"
#define LDG_PROOF_MAGIC "LDPF"

/* Domain tags, 16 bytes each. */
#define LDG_TAG_TX     "FSLEDGER/TX/v1\0\0"
#define LDG_TAG_COMMIT "FSLEDGER/COMMIT1"
#define LDG_TAG_STATE  "FSLEDGER/STATE/1"
#define LDG_TAG_WRITES "FSLEDGER/WRITES1"
#define LDG_TAG_RESULT "FSLEDGER/RESULT1"
#define LDG_TAG_BLOB   "FSLEDGER/BLOBPUT"
#define LDG_TAG_LEN    16

static inline void ldg_put16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void ldg_put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline void ldg_put64(uint8_t *p, uint64_t v) {
    ldg_put32(p, (uint32_t)(v >> 32));
    ldg_put32(p + 4, (uint32_t)v);
}
/* Bytes a blob putter signs (docs/ledger-protocol.md §Blobs):
 * "FSLEDGER/BLOBPUT" ‖ chain_id[32] ‖ SHA-256(blob)[32] ‖ u64 length. */
#define LDG_BLOB_STMT_BYTES (LDG_TAG_LEN + 32 + 32 + 8)
static inline void ldg_blob_statement(uint8_t out[LDG_BLOB_STMT_BYTES], const uint8_t chain_id[32],
                                      const uint8_t hash[32], uint64_t len) {
    memcpy(out, LDG_TAG_BLOB, LDG_TAG_LEN);
    memcpy(out + LDG_TAG_LEN, chain_id, 32);
    memcpy(out + LDG_TAG_LEN + 32, hash, 32);
    ldg_put64(out + LDG_TAG_LEN + 64, len);
}
/* A new signer holding the same key as s (the client keeps its own copy). */
int ldg_signer_copy(ledger_signer **out, const ledger_signer *s);

static inline uint16_t ldg_get16(const uint8_t *p) {
    return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t ldg_get32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t ldg_get64(const uint8_t *p) {
    return ((uint64_t)ldg_get32(p) << 32) | ldg_get32(p + 4);
}

/* A bounds-checked reader over untrusted bytes. */
typedef struct ldg_rd {
    const uint8_t *p;
    size_t left;
} ldg_rd;

static inline int ldg_take(ldg_rd *r, size_t n, const uint8_t **out) {
    if (r->left < n)
        return LEDGER_E_DECODE;
    *out = r->p;
    r->p += n;
    r->left -= n;
    return 0;
}

/* Transaction: one buffer holding the canonical encoding; fields point into it. */
struct ledger_tx {
    uint8_t *enc; /* LEDGER_TX_OVERHEAD + payload bytes */
    size_t enc_len;
    uint8_t hash[32]; /* SHA-256 of enc, kept current by every mutator */
};
#define LDG_TX_OFF_OP      5
#define LDG_TX_OFF_SENDER  7
#define LDG_TX_OFF_NONCE   39
#define LDG_TX_OFF_PLEN    47
#define LDG_TX_OFF_PAYLOAD 51

void ldg_tx_refresh_hash(ledger_tx *tx);

struct ledger_cert {
    uint64_t view;
    size_t count, cap;
    uint16_t *replicas;
    uint8_t *sigs; /* count × 64 */
};

struct ledger_membership {
    uint8_t chain_id[32];
    uint32_t f;
    size_t n;      /* slots (replica ids 0 … n−1) */
    uint8_t *keys; /* n × 32 */
    /* Encoding version 2 (a membership changed on the chain): per slot, 1 when
     * the replica is a member, 0 when it was removed (its id is never reused),
     * and its address. NULL in version 1 (every slot a member, no addresses). */
    uint8_t *active;
    char (*addrs)[LEDGER_MEMBER_ADDR_MAX + 1];
    size_t nactive;
};
/* A membership derived from m by one change (LEDGER_MEMBER_ADD_REPLICA: a new
 * slot n with key and addr; LEDGER_MEMBER_REMOVE_REPLICA: the slot of key
 * leaves); f = ⌊(members − 1)/3⌋. LEDGER_E_INVALID when the change does not
 * apply (key present or absent, fewer than 4 members left, 64 slots). */
int ldg_membership_change(const ledger_membership *m, int kind, const uint8_t key[32],
                          const char *addr, ledger_membership **out);
/* Hash of a membership's encoding (the epoch hash). */
int ldg_membership_hash(const ledger_membership *m, uint8_t out[32]);

struct ledger_block {
    uint8_t format;           /* header format version: 1 (read only) or 2 */
    uint32_t app_version;     /* format 2: application version in force (format 1: 1) */
    uint8_t epoch[32];        /* format 2: SHA-256 of the membership in force (format 1: zero) */
    uint8_t state_digest[32]; /* format 3: BLAKE2b-256 of the state's LtHash (else zero) */
    uint64_t height;
    uint8_t prev_hash[32];
    uint64_t timestamp;
    uint8_t tx_root[32];
    uint8_t state_root[32];
    uint16_t proposer;
    uint64_t view;
    size_t ntx;
    ledger_tx **txs;
    ledger_cert *cert;
    uint8_t header_hash[32];
    uint8_t *tree; /* every level of the Merkle tree, leaves first (NULL if no tx) */
};

struct ledger_proof {
    uint8_t header[LEDGER_HEADER_BYTES];
    size_t header_len;
    uint8_t header_hash[32];
    uint64_t height, timestamp;
    uint8_t tx_root[32], state_root[32];
    uint32_t index, count;
    size_t path_len;
    uint8_t *path; /* path_len × 32 */
    ledger_cert *cert;
};

/* A decoded header (either format). */
typedef struct ldg_header {
    uint8_t format;
    uint64_t height;
    uint8_t prev[32];
    uint64_t ts;
    uint8_t tx_root[32], state_root[32];
    uint16_t proposer;
    uint64_t view;
    uint32_t ntx;
    uint32_t app_version;     /* 1 for format 1 */
    uint8_t epoch[32];        /* zero for format 1 */
    uint8_t state_digest[32]; /* format 3 (zero below) */
} ldg_header;

/* Size of a header of format version v (0: unknown version). */
static inline size_t ldg_header_size(uint8_t v) {
    return v == 1   ? LEDGER_HEADER_V1_BYTES
           : v == 2 ? LEDGER_HEADER_V2_BYTES
           : v == 3 ? LEDGER_HEADER_V3_BYTES
                    : 0;
}
/* Header encoding (returns its length) and hash of a block's fields. */
size_t ldg_block_header_encode(const ledger_block *b, uint8_t out[LEDGER_HEADER_BYTES]);
void ldg_block_rehash(ledger_block *b);
/* Decode a header from the first bytes of buf (len available): magic, version,
 * then exactly ldg_header_size(version) bytes are read; *used gets that size. */
int ldg_header_decode(const uint8_t *buf, size_t len, ldg_header *h, size_t *used);

/* Certificate encoding into a caller buffer; size function. */
size_t ldg_cert_size(const ledger_cert *c);
void ldg_cert_write(const ledger_cert *c, uint8_t *out);
/* Decode a certificate from a reader (consumes exactly its bytes). */
int ldg_cert_read(ldg_rd *r, ledger_cert **out);

/* Merkle: verify an audit path; path lengths. */
int ldg_merkle_verify(const uint8_t leaf_tx_hash[32], size_t index, size_t n, const uint8_t *path,
                      size_t path_len, const uint8_t root[32]);
size_t ldg_merkle_path_len(size_t index, size_t n);
/* The whole tree (levels leaves-up, concatenated) and its root; paths from it. */
size_t ldg_merkle_tree_nodes(size_t n);
int ldg_merkle_tree(const uint8_t *hashes, size_t n, uint8_t **tree, uint8_t root[32]);
int ldg_merkle_tree_path(const uint8_t *tree, size_t n, size_t index, uint8_t **path,
                         size_t *path_len);

/* Ed25519 verify of a prehashed (32-byte) message. */
int ldg_verify32(const uint8_t pk[32], const uint8_t msg[32], const uint8_t sig[64]);

int ldg_init(void);

/* The client's membership catch-up (bundle.c, QUERY kind 13): the answer is
 * the list of changes taking force in (after, upto] (ledger_store_changes) ‖
 * u32 n ‖ the header of block min(upto, tip) ‖ u32 n ‖ its certificate, which
 * shows that no change up to it is left out. The verifier starts from `from`
 * (in force since from_eff, 0 for genesis) and gives the membership in force
 * after the last change, its first height, the height of the block, and the
 * length of the list at the start of buf. */
int ldg_changes_answer(ledger_store *s, uint64_t after, uint64_t upto, uint8_t **out, size_t *len);
int ldg_changes_answer_verify(const ledger_membership *from, uint64_t from_eff, const uint8_t *buf,
                              size_t len, ledger_membership **out, uint64_t *eff, uint64_t *proven,
                              size_t *list_len);

#endif
