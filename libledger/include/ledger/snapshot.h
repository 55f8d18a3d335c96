/**
 * @file ledger/snapshot.h
 * @brief State snapshots: a store far behind (or new) starts from the state
 * at a height instead of replaying every block (docs/ledger-storage.md
 * §Snapshots, docs/formats/ledger.md §Snapshot chunk).
 *
 * Export: ledger_store_snapshot_begin() pins the store's state at its tip
 * (an LMDB read transaction: later blocks do not change what it serves);
 * ledger_snapshot_chunk() serves chunk i, which starts after the resume key
 * the receiver names (the last key of chunk i − 1), so a server keeps no
 * per-receiver position. Chunks are at most LEDGER_SNAPSHOT_CHUNK_BYTES
 * (one larger entry travels alone) and their boundaries are fixed by the
 * state. The snapshot digest is, for a block of header format 3, the state
 * digest its header carries (docs/formats/ledger.md §State digest: an LtHash
 * of the state and nonce tables, certified with the header); for an older
 * block, a hash chain over the chunks bound to the height and header hash.
 * Either is the same on every replica.
 *
 * Import: into an empty store only. ledger_store_snapshot_import_begin()
 * takes the block at the snapshot height (with its certificate) and the
 * snapshot digest: for a format 3 block it must be the header's state digest
 * (LEDGER_E_HASH otherwise), and the entries are checked against it, so
 * only the block must come from a party the caller trusts; for an older
 * block the digest itself must (the consensus layer's job: see
 * docs/ledger-protocol.md §Snapshot catch-up). Chunks are written, one LMDB
 * transaction each, into a staging table that nothing reads: memory stays
 * bounded by one chunk whatever the state's size, and a process killed
 * mid-import resumes at the next chunk (begin again with the same block and
 * digest). Every staged entry joins an LtHash accumulator (committed with
 * the chunk); the last chunk completes the digest: a mismatch drops
 * everything staged (LEDGER_E_HASH; ask another peer). ledger_snapshot_import_finish()
 * then checks the block against the imported state (its certificate under
 * the membership in force at its height, its epoch hash and application
 * version) and installs state, nonces and the block in one transaction.
 *
 * Thread safety: a ledger_snapshot may be used by one thread at a time; an
 * import holds no lock between calls but only one import per store is
 * meaningful (a second begin with another block discards the first).
 */
#ifndef LEDGER_SNAPSHOT_H
#define LEDGER_SNAPSHOT_H

#include "common.h"
#include "store.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Largest chunk encoding, bytes, unless a single entry is larger (then it
 * travels alone: state values are bounded at 16 MiB). */
#define LEDGER_SNAPSHOT_CHUNK_BYTES 262144u
/** Largest resume key (namespace byte + LMDB's largest key). */
#define LEDGER_SNAPSHOT_RESUME_MAX 512u

/** An export of a store's state pinned at one height. */
typedef struct ledger_snapshot ledger_snapshot;
/** An import in progress into an empty store. */
typedef struct ledger_snapshot_import ledger_snapshot_import;

/** The chunk size bound (LEDGER_SNAPSHOT_CHUNK_BYTES), for bindings. */
LEDGER_API size_t ledger_snapshot_chunk_bytes(void);

/**
 * Decode a chunk strictly without storing it (fields in range, entries in
 * increasing order, no trailing bytes): what a receiver checks first.
 * @param[out] height,index,last,count the chunk's fields (each may be NULL)
 * @return LEDGER_OK, LEDGER_E_INVALID (NULL chunk), LEDGER_E_DECODE, LEDGER_E_VERSION
 */
LEDGER_API int ledger_snapshot_chunk_check(const uint8_t *chunk, size_t len, uint64_t *height,
                                           uint64_t *index, int *last, uint32_t *count);

/**
 * Pin the state at the store's tip for export.
 * @param[in]  s   the store (it must hold at least one block)
 * @param[out] out the export; free with ledger_snapshot_free()
 * @return LEDGER_OK, LEDGER_E_INVALID (NULL), LEDGER_E_NOT_FOUND (empty chain),
 *         LEDGER_E_NOMEM, LEDGER_E_IO
 */
LEDGER_API int ledger_store_snapshot_begin(ledger_store *s, ledger_snapshot **out);
/** Free an export (NULL is a no-op). */
LEDGER_API void ledger_snapshot_free(ledger_snapshot *x);
/** The height the export is pinned at (0 for NULL). */
LEDGER_API uint64_t ledger_snapshot_height(const ledger_snapshot *x);

/**
 * Encode chunk @p index, starting after @p resume (the last key of chunk
 * index − 1 as ledger_snapshot_import_next() gives it; empty for chunk 0).
 * @param[out] out malloc'd chunk encoding (free with ledger_free()); @param[out] len its size
 * @return LEDGER_OK, LEDGER_E_INVALID, LEDGER_E_NOMEM, LEDGER_E_IO
 */
LEDGER_API int ledger_snapshot_chunk(ledger_snapshot *x, uint64_t index, const uint8_t *resume,
                                     size_t resume_len, uint8_t **out, size_t *len);
/**
 * The snapshot digest: for a block of header format 3 its header's state
 * digest, read without walking the chunks unless @p nchunks is asked for;
 * for an older block the chunk chain (walks every chunk: O(state)).
 * @param[out] digest 32 bytes; @param[out] nchunks the number of chunks (may be NULL)
 * @return LEDGER_OK, LEDGER_E_INVALID, LEDGER_E_NOMEM, LEDGER_E_IO
 */
LEDGER_API int ledger_snapshot_digest(ledger_snapshot *x, uint8_t digest[32], uint64_t *nchunks);
/**
 * The block at the export's height, encoded (header, transactions and
 * certificate): what a receiver passes to ledger_store_snapshot_import_begin().
 * @return LEDGER_OK, LEDGER_E_INVALID, LEDGER_E_NOMEM, LEDGER_E_IO, LEDGER_E_CORRUPT
 */
LEDGER_API int ledger_snapshot_block(ledger_snapshot *x, uint8_t **out, size_t *len);

/**
 * Begin (or resume) importing a snapshot into an empty store.
 * @param[in] block,block_len the encoded block at the snapshot height, certificate included
 * @param[in] digest the snapshot digest the caller trusts
 * @param[out] out the import; free with ledger_snapshot_import_free()
 * @return LEDGER_OK; LEDGER_E_INVALID (NULL, or the store is not empty);
 *         LEDGER_E_DECODE / LEDGER_E_VERSION / LEDGER_E_HASH (the block does not
 *         decode, or it is header format 3 and @p digest is not its state
 *         digest) or LEDGER_E_CERTIFICATE (it has none); LEDGER_E_NOMEM; LEDGER_E_IO
 */
LEDGER_API int ledger_store_snapshot_import_begin(ledger_store *s, const uint8_t *block,
                                                  size_t block_len, const uint8_t digest[32],
                                                  ledger_snapshot_import **out);
/** Free an import handle (what was staged stays on disk for a resume). */
LEDGER_API void ledger_snapshot_import_free(ledger_snapshot_import *im);
/**
 * What to ask for next.
 * @param[out] index the next chunk's index
 * @param[out] resume the resume key to send (LEDGER_SNAPSHOT_RESUME_MAX bytes of room)
 * @param[out] resume_len its length (0 for chunk 0)
 * @param[out] complete 1 when every chunk was staged and the digest matched
 * @return LEDGER_OK, LEDGER_E_INVALID
 */
LEDGER_API int ledger_snapshot_import_next(const ledger_snapshot_import *im, uint64_t *index,
                                           uint8_t *resume, size_t *resume_len, int *complete);
/**
 * Stage one chunk (the next one). Refused, with nothing staged: bytes that
 * do not decode (LEDGER_E_DECODE, LEDGER_E_VERSION), another height or
 * index, or keys not after the last staged one (LEDGER_E_HEIGHT). When it
 * is the last chunk and the digest does not match, everything staged is
 * dropped and the import starts again from chunk 0 (LEDGER_E_HASH).
 * @return LEDGER_OK or one of the codes above, LEDGER_E_FULL, LEDGER_E_NOMEM, LEDGER_E_IO
 */
LEDGER_API int ledger_snapshot_import_chunk(ledger_snapshot_import *im, const uint8_t *chunk,
                                            size_t len);
/**
 * Install a complete import: state, nonces, the block at the snapshot
 * height (the store's first block and its tip) and the base record, in one
 * transaction.
 * @return LEDGER_OK; LEDGER_E_INVALID (not complete, or the store is no longer
 *         empty); LEDGER_E_CERTIFICATE, LEDGER_E_EPOCH, LEDGER_E_APP_VERSION (the
 *         block does not agree with the imported state: nothing installed);
 *         LEDGER_E_FULL, LEDGER_E_NOMEM, LEDGER_E_IO
 */
LEDGER_API int ledger_snapshot_import_finish(ledger_snapshot_import *im);

/**
 * The height a store started from a snapshot at (0: it holds its chain from
 * genesis). Blocks below it are not held (LEDGER_E_SNAPSHOT), nor their
 * transactions, proofs or trace entries.
 */
LEDGER_API uint64_t ledger_store_snapshot_base(ledger_store *s);

/**
 * The lowest height whose header a snapshot-started store holds: its base
 * until headers below it are added, 1 once all are (1 for a store that holds
 * its chain from genesis).
 * @return LEDGER_OK, LEDGER_E_INVALID, LEDGER_E_CORRUPT, LEDGER_E_IO
 */
LEDGER_API int ledger_store_snapshot_headers(ledger_store *s, uint64_t *lowest);
/**
 * Add the header below the lowest one held, with its certificate, to a
 * snapshot-started store (headers are fetched downwards from the base). It
 * must hash to the previous-header hash of the header above, decode, and
 * its certificate verify under the membership in force at its height (from
 * the imported state), whose hash a format 2 header names. Nothing is stored
 * otherwise. ledger_store_header() then answers for that height;
 * ledger_store_block() still does not (LEDGER_E_SNAPSHOT).
 * @param[in] header,hlen an `LDBH` header encoding; @param[in] cert,clen an `LDCC` certificate
 * @return LEDGER_OK; LEDGER_E_INVALID (NULL, not a snapshot-started store, or
 *         every header held); LEDGER_E_DECODE, LEDGER_E_VERSION, LEDGER_E_HASH,
 *         LEDGER_E_CERTIFICATE, LEDGER_E_EPOCH; LEDGER_E_NOMEM, LEDGER_E_IO
 */
LEDGER_API int ledger_store_snapshot_put_header(ledger_store *s, const uint8_t *header, size_t hlen,
                                                const uint8_t *cert, size_t clen);

/**
 * The encoded certificate (`LDCC`) of the block at @p height: from the block,
 * or, in a snapshot-started store below its base, from the header it holds
 * (so such a store can hand the headers below its base on to others).
 * @param[out] out malloc'd (ledger_free); @param[out] len its size
 * @return LEDGER_OK, LEDGER_E_INVALID, LEDGER_E_NOT_FOUND, LEDGER_E_SNAPSHOT
 *         (below the base and not held), LEDGER_E_CORRUPT, LEDGER_E_NOMEM, LEDGER_E_IO
 */
LEDGER_API int ledger_store_certificate(ledger_store *s, uint64_t height, uint8_t **out,
                                        size_t *len);

#ifdef __cplusplus
}
#endif

#endif
