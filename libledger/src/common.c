/* libledger: error text, version, sizes, hashing, library set-up. */
#include "internal.h"

#include <sodium.h>

const char *ledger_strerror(int code) {
    switch (code) {
        /* clang-format off */
        /* codes:begin libledger.data.cases: generated from libledger/codes.tsv by tools/gen_codes.py */
        case LEDGER_OK:
            return "success";
        case LEDGER_E_INVALID:
            return "invalid argument (NULL, out of range or too large)";
        case LEDGER_E_DECODE:
            return "bytes are not a canonical encoding";
        case LEDGER_E_VERSION:
            return "unknown format version (of an encoding or of the store on disk)";
        case LEDGER_E_SIGNATURE:
            return "signature does not verify";
        case LEDGER_E_CERTIFICATE:
            return "commit certificate does not verify (it needs 2f+1 member signatures)";
        case LEDGER_E_HASH:
            return "hash does not match";
        case LEDGER_E_STATE_ROOT:
            return "state root does not match";
        case LEDGER_E_HEIGHT:
            return "block is not the next block of the chain (height or previous hash)";
        case LEDGER_E_NOT_FOUND:
            return "not found (no such block, transaction, key or blob)";
        case LEDGER_E_REJECTED:
            return "transaction rejected by the application";
        case LEDGER_E_REPLAY:
            return "nonce not above the sender's last nonce (replay)";
        case LEDGER_E_CORRUPT:
            return "store fails verification";
        case LEDGER_E_MEMBERSHIP:
            return "membership invalid or different from the store's";
        case LEDGER_E_TIMESTAMP:
            return "block timestamp goes backwards";
        case LEDGER_E_APP:
            return "application failure (not a rejection of one transaction)";
        case LEDGER_E_BUFFER_TOO_SMALL:
            return "output buffer too small";
        case LEDGER_E_FULL:
            return "store map is full (raise map_size)";
        case LEDGER_E_BLOB_QUOTA:
            return "blob quota of this key exceeded";
        case LEDGER_E_BLOB_FULL:
            return "blob store full (high-water mark reached)";
        case LEDGER_E_APP_VERSION:
            return "block header names another application version than the one in force at its height";
        case LEDGER_E_EPOCH:
            return "block header names another membership (epoch hash) than the one in force at its height";
        case LEDGER_E_UPGRADE_NEEDED:
            return "upgrade needed: the application version in force at the next block is not one this build executes";
        case LEDGER_E_TX_APP_VERSION:
            return "transaction built for another application version than the one in force";
        case LEDGER_E_SNAPSHOT:
            return "the store started from a snapshot: blocks below its base height are not held and it cannot replay from genesis";
        case LEDGER_E_NOMEM:
            return "out of memory";
        case LEDGER_E_IO:
            return "I/O or LMDB failure";
        case LEDGER_E_BUSY:
            return "store in use by another handle or process";
        case LEDGER_E_INTERNAL:
            return "internal error (a bug: please report)";
        /* codes:end */
            /* clang-format on */
#include "consensus/strerror.inc"
        default:
            break;
    }
    if (code <= -250 && code >= -299)
        return "consensus error";
    return "unknown error";
}

const char *ledger_version_string(void) {
    return LEDGER_VERSION_STRING;
}

void ledger_free(void *p) {
    free(p);
}

size_t ledger_hash_bytes(void) {
    return LEDGER_HASH_BYTES;
}
size_t ledger_pubkey_bytes(void) {
    return LEDGER_PUBKEY_BYTES;
}
size_t ledger_sig_bytes(void) {
    return LEDGER_SIG_BYTES;
}

int ledger_sha256(uint8_t out[32], const uint8_t *data, size_t len) {
    if (!out || (!data && len))
        return LEDGER_E_INVALID;
    crypto_hash_sha256(out, data, len);
    return LEDGER_OK;
}

int ldg_init(void) {
    return sodium_init() < 0 ? LEDGER_E_INTERNAL : 0;
}

int ldg_verify32(const uint8_t pk[32], const uint8_t msg[32], const uint8_t sig[64]) {
    return crypto_sign_verify_detached(sig, msg, 32, pk) == 0 ? 0 : LEDGER_E_SIGNATURE;
}
