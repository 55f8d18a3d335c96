/* Return-code texts and version getters of libfedshare. */
#include <stdlib.h>

#include <abac.h>
#include <fedavg.h>
#include <ledger.h>
#include <phe.h>

#include "fedshare/common.h"

const char *fedshare_strerror(int code) {
    switch (code) {
        /* clang-format off */
        /* codes:begin libfedshare.core.cases: generated from libfedshare/codes.tsv by tools/gen_codes.py */
        case FEDSHARE_OK:
            return "success";
        case FEDSHARE_E_INVALID:
            return "invalid argument (NULL, empty or out of range)";
        case FEDSHARE_E_FORMAT:
            return "malformed or non-canonical encoding";
        case FEDSHARE_E_VERSION:
            return "unknown format version";
        case FEDSHARE_E_BUFFER_TOO_SMALL:
            return "output buffer too small";
        case FEDSHARE_E_DID:
            return "not a valid did:key identifier (did:key:z6Mk... of an Ed25519 key)";
        case FEDSHARE_E_CONFIG:
            return "invalid consortium configuration";
        case FEDSHARE_E_NOT_MEMBER:
            return "sender is not a consortium member";
        case FEDSHARE_E_ROLE:
            return "sender lacks the role this act needs";
        case FEDSHARE_E_NOT_OWNER:
            return "only the data set's owner may do this";
        case FEDSHARE_E_EXISTS:
            return "already exists";
        case FEDSHARE_E_NOT_FOUND:
            return "no such data set, task, round or record";
        case FEDSHARE_E_STATE:
            return "not allowed in the current state (phase)";
        case FEDSHARE_E_DENIED:
            return "access denied by policy";
        case FEDSHARE_E_NOT_GRANTED:
            return "data set not granted to the requester";
        case FEDSHARE_E_MISMATCH:
            return "hash does not match the recorded or recomputed one";
        case FEDSHARE_E_SHARE:
            return "decryption share does not verify";
        case FEDSHARE_E_QUORUM:
            return "too few valid member signatures";
        case FEDSHARE_E_TOO_FEW:
            return "too few accepted updates to decrypt the round's sum (the task's minimum)";
        case FEDSHARE_E_RANGE:
            return "the decrypted sum has a slot outside what the accepted updates' weights and the clipping bound allow: the round was refused (SUM_REFUSED)";
        case FEDSHARE_E_ATTESTATION:
            return "a key holder's attestation of a dealerless key is missing or does not verify against its registered key";
        case FEDSHARE_E_RETIRED:
            return "the sender (or a signer) was retired from the consortium: its acts are refused from the change on";
        case FEDSHARE_E_KEYHOLDERS:
            return "the change would leave a recorded key with fewer key holders in force than its threshold t";
        case FEDSHARE_E_IN_TASK:
            return "the member is the aggregator of a task in progress, or a participant of one that would keep fewer participants than its minimum of accepted updates: retire it once the task has ended";
        case FEDSHARE_E_NOMEM:
            return "out of memory";
        case FEDSHARE_E_IO:
            return "file or socket error";
        case FEDSHARE_E_CRYPTO:
            return "libsodium could not be initialised";
        /* codes:end */
        /* clang-format on */
        default:
            break;
    }
    /* Codes passed on from the four libraries keep their own texts. */
    if (code <= -100 && code > -200)
        return phe_strerror(code);
    if (code <= -200 && code > -300)
        return ledger_strerror(code);
    if (code <= -300 && code > -400)
        return fedavg_strerror(code);
    if (code <= -400 && code > -500)
        return abac_strerror(code);
    return "unknown error code";
}

const char *fedshare_version_string(void) {
    return FEDSHARE_VERSION_STRING;
}

void fedshare_free(void *p) {
    free(p);
}
