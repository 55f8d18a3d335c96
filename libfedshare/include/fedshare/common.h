/**
 * @file fedshare/common.h
 * @brief Return codes, the export macro and version getters of libfedshare.
 *
 * libfedshare's own codes are −500 … −599. Functions that pass on a code of
 * one of the four libraries it composes return that code unchanged (libphe
 * −100…, libledger −200…, libfedavg −300…, libabac −400…);
 * fedshare_strerror() names every one of them.
 *
 * Thread safety: every function here is reentrant.
 */
#ifndef FEDSHARE_COMMON_H
#define FEDSHARE_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "fedshare/version.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(FEDSHARE_BUILDING) && defined(__GNUC__)
#define FEDSHARE_API __attribute__((visibility("default")))
#else
#define FEDSHARE_API
#endif

/** Return codes of libfedshare (0 is success). */
typedef enum fedshare_error {
    /* clang-format off */
    /* codes:begin libfedshare.core.enum: generated from libfedshare/codes.tsv by tools/gen_codes.py */
    /** Success. */
    FEDSHARE_OK = 0,
    /** An argument is NULL, empty or out of range. */
    FEDSHARE_E_INVALID = -500,
    /** Malformed or non-canonical encoding. */
    FEDSHARE_E_FORMAT = -501,
    /** Unknown format version. */
    FEDSHARE_E_VERSION = -502,
    /** The output buffer is too small. */
    FEDSHARE_E_BUFFER_TOO_SMALL = -503,
    /** Not a valid did:key identifier or DID document. */
    FEDSHARE_E_DID = -504,
    /** The consortium configuration is invalid. */
    FEDSHARE_E_CONFIG = -505,
    /** The sender is not a consortium member. */
    FEDSHARE_E_NOT_MEMBER = -506,
    /** The sender lacks the role the act needs. */
    FEDSHARE_E_ROLE = -507,
    /** Only the data set's owner may do this. */
    FEDSHARE_E_NOT_OWNER = -508,
    /** The object already exists. */
    FEDSHARE_E_EXISTS = -509,
    /** No such data set, task, round or record. */
    FEDSHARE_E_NOT_FOUND = -510,
    /** Not allowed in the object's current state (phase). */
    FEDSHARE_E_STATE = -511,
    /** The access policy denied the request. */
    FEDSHARE_E_DENIED = -512,
    /** The data set was not granted to the requester. */
    FEDSHARE_E_NOT_GRANTED = -513,
    /** A hash differs from the one recorded or recomputed. */
    FEDSHARE_E_MISMATCH = -514,
    /** A decryption share does not verify. */
    FEDSHARE_E_SHARE = -515,
    /** Too few valid member signatures. */
    FEDSHARE_E_QUORUM = -516,
    /** The round has fewer accepted updates than the task's minimum: its sum is never decrypted. */
    FEDSHARE_E_TOO_FEW = -517,
    /** The decrypted sum has a slot outside what the accepted updates' weights and the clipping
     *  bound allow: the round was refused (SUM_REFUSED on the ledger). */
    FEDSHARE_E_RANGE = -518,
    /** A key holder's signed attestation of a dealerless key is missing or does not verify against
     *  its registered DID key. */
    FEDSHARE_E_ATTESTATION = -519,
    /** The sender or a signer was retired from the consortium by a membership change; its acts and
     *  signatures are refused from the change's height on. */
    FEDSHARE_E_RETIRED = -520,
    /** A membership change would leave a recorded threshold key with fewer key holders in force
     *  than its threshold t, so its sums could no longer be decrypted. */
    FEDSHARE_E_KEYHOLDERS = -521,
    /** The member to retire is the aggregator of a task in progress (nobody else may aggregate it),
     *  or a participant of one that would keep fewer participants than its minimum of accepted
     *  updates; retire it once the task has ended. A participant whose task keeps enough
     *  participants may retire: the task goes on without it. */
    FEDSHARE_E_IN_TASK = -522,
    /** Out of memory. */
    FEDSHARE_E_NOMEM = -590,
    /** A file or socket could not be read or written. */
    FEDSHARE_E_IO = -591,
    /** libsodium could not be initialised. */
    FEDSHARE_E_CRYPTO = -592
    /* codes:end */
    /* clang-format on */
} fedshare_error;

/* clang-format off */
/* codes:begin libfedshare.core.aliases: generated from libfedshare/codes.tsv by tools/gen_codes.py */
#define FEDSHARE_E_BUFFER FEDSHARE_E_BUFFER_TOO_SMALL /**< Deprecated name of FEDSHARE_E_BUFFER_TOO_SMALL. */
/* codes:end */
/* clang-format on */

/** @return static text for any return code of libfedshare or the four libraries (never NULL). */
FEDSHARE_API const char *fedshare_strerror(int code);

/** @return the runtime library version, e.g. "0.1.0" (static). */
FEDSHARE_API const char *fedshare_version_string(void);

/** @brief Free a buffer libfedshare returned. NULL is a no-op. */
FEDSHARE_API void fedshare_free(void *p);

#ifdef __cplusplus
}
#endif

#endif /* FEDSHARE_COMMON_H */
