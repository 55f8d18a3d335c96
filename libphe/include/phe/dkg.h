/**
 * @file phe/dkg.h
 * @brief Dealerless t-of-n threshold Paillier key generation.
 *
 * The l key holders run this state machine among themselves (libphe does no
 * networking: the caller carries the messages) and each ends with the same
 * public parameters and its own key share, exactly the objects that
 * phe_threshold_deal() hands out, so decryption shares, their proofs and
 * their combination (phe/threshold.h) work unchanged. Nobody learns p, q or
 * another holder's share. Protocol, security model and costs:
 * docs/phe-dkg.md; the message encoding ("PHDK"): docs/formats/phe-dkg.md.
 *
 * Use: each holder i (1 … l) calls phe_dkg_new() with the same session id,
 * bits, t and l, then phe_dkg_start(); every message produced goes to the
 * holder named by phe_dkg_msg::to (0: to every other holder); every message
 * received is passed to phe_dkg_handle(), which may produce more. When
 * phe_dkg_done() is 1, phe_dkg_finish() returns the key.
 *
 * Security: semi-honest, honest majority (l ≥ 3, fewer than l/2 colluders);
 * a holder that sends a key share inconsistent with its public commitment
 * is detected and named (phe_dkg_blamed()). See docs/phe-dkg.md for which
 * deviations are caught and which are not.
 *
 * Thread safety: one phe_dkg object must not be used by two threads at once;
 * distinct objects are independent. Return codes: 0 or a negative code of
 * phe.h or the codes below; phe_strerror() names every one.
 */
#ifndef PHE_DKG_H
#define PHE_DKG_H

#include <stddef.h>
#include <stdint.h>

#include "../phe.h"

#ifdef __cplusplus
extern "C" {
#endif

/** One holder's state in a key generation ceremony. */
typedef struct phe_dkg phe_dkg;

/** An outgoing message: bytes for holder @c to (0: for every other holder). */
typedef struct phe_dkg_msg {
    uint32_t to;
    uint8_t *data;
    size_t len;
} phe_dkg_msg;

/** Error codes of the key generation (threshold range, −180 … −186). */
enum phe_dkg_error {
    /* clang-format off */
    /* codes:begin libphe.dkg.enum: generated from libphe/codes.tsv by tools/gen_codes.py */
    /** Call not valid in this state (finish before done, use after a failure). */
    PHE_ERR_DKG_STATE = -180,
    /** Message of another session, from an unknown holder or not for this holder. */
    PHE_ERR_DKG_SESSION = -181,
    /** Message of another round or type than the state machine expects. */
    PHE_ERR_DKG_ROUND = -182,
    /** A second message from the same holder in the same round. */
    PHE_ERR_DKG_DUPLICATE = -183,
    /** A holder deviated (share inconsistent with its commitment); see phe_dkg_blamed(). */
    PHE_ERR_DKG_BLAME = -184,
    /** The holders disagree about the result (a commitment was not the same for all). */
    PHE_ERR_DKG_INCONSISTENT = -185,
    /** No modulus found within the candidate limit (PHE_DKG_MAX_CANDIDATES). */
    PHE_ERR_DKG_GIVE_UP = -186
    /* codes:end */
    /* clang-format on */
};

/** Candidate moduli tried before the ceremony gives up. */
#define PHE_DKG_MAX_CANDIDATES 20000000u

/**
 * Create holder @p index's state.
 * @param[out] out   receives the state (free with phe_dkg_free()).
 * @param session    32 bytes every holder agrees on beforehand (unique per
 *                   ceremony); bound into every message and derivation.
 * @param bits       modulus size: 2048, 3072 or 4096; 1024 runs every round
 *                   (for tests and comparisons) but phe_dkg_finish() then
 *                   returns PHE_ERR_KEY_SIZE, as libphe accepts no such key.
 * @param t          shares needed to decrypt, 1 ≤ t ≤ l.
 * @param l          holders, 3 ≤ l ≤ 16.
 * @param index      this holder, 1 … l.
 * @param rng        random source (NULL: the system generator); must stay
 *                   valid while the state lives.
 * @return 0; PHE_ERR_KEY_SIZE; PHE_ERR_THRESHOLD_PARAMS (t, l or index);
 *         PHE_ERR_INVALID_ARG; PHE_ERR_NOMEM.
 */
PHE_API int phe_dkg_new(phe_dkg **out, const uint8_t session[32], uint32_t bits, uint32_t t,
                        uint32_t l, uint32_t index, phe_rng *rng);

/** Free the state, wiping every secret; NULL is a no-op. */
PHE_API void phe_dkg_free(phe_dkg *dkg);

/**
 * Begin: produce the first round's messages.
 * @param[out] msgs   receives an array (free with phe_dkg_msgs_free()).
 * @param[out] count  number of messages.
 * @return 0; PHE_ERR_DKG_STATE (already started); PHE_ERR_NOMEM; PHE_ERR_RNG.
 */
PHE_API int phe_dkg_start(phe_dkg *dkg, phe_dkg_msg **msgs, size_t *count);

/**
 * Take one message from another holder; produce the messages it triggers
 * (possibly none). A message of the next round is kept until this round ends.
 * On PHE_ERR_DECODE, PHE_ERR_VERSION, PHE_ERR_DKG_SESSION, PHE_ERR_DKG_ROUND
 * and PHE_ERR_DKG_DUPLICATE the message is dropped and the state unchanged;
 * on PHE_ERR_DKG_BLAME or PHE_ERR_DKG_INCONSISTENT the ceremony has failed
 * (every later call returns PHE_ERR_DKG_STATE).
 * @return 0 or one of the codes above; PHE_ERR_INVALID_ARG; PHE_ERR_NOMEM;
 *         PHE_ERR_RNG; PHE_ERR_DKG_GIVE_UP.
 */
PHE_API int phe_dkg_handle(phe_dkg *dkg, const uint8_t *in, size_t in_len, phe_dkg_msg **msgs,
                           size_t *count);

/** Free a message array from phe_dkg_start()/phe_dkg_handle(); NULL is a no-op. */
PHE_API void phe_dkg_msgs_free(phe_dkg_msg *msgs, size_t count);

/** 1 when the ceremony has succeeded and phe_dkg_finish() may be called. */
PHE_API int phe_dkg_done(const phe_dkg *dkg);

/** The holder named as deviating after PHE_ERR_DKG_BLAME, otherwise 0. */
PHE_API uint32_t phe_dkg_blamed(const phe_dkg *dkg);

/**
 * The result: the public parameters (identical at every holder: compare
 * phe_threshold_params_key_id()) and this holder's key share.
 * @return 0; PHE_ERR_DKG_STATE (not done); PHE_ERR_KEY_SIZE (a 1024-bit
 *         run); PHE_ERR_INVALID_ARG; PHE_ERR_NOMEM.
 */
PHE_API int phe_dkg_finish(phe_dkg *dkg, phe_threshold_params **params_out,
                           phe_threshold_keyshare **share_out);

/**
 * Counters: candidate moduli opened, bytes of messages this holder produced
 * (a broadcast counted once per recipient) and rounds so far. Any pointer may
 * be NULL.
 * @return 0 or PHE_ERR_INVALID_ARG.
 */
PHE_API int phe_dkg_stats(const phe_dkg *dkg, uint64_t *candidates, uint64_t *bytes_sent,
                          uint32_t *rounds);

/**
 * The ceremony's final commitment hash: SHA-256 over a tag, the session, the
 * holder count and every holder's commitment hash in order (what the last
 * round compared, identical at every holder; docs/phe-dkg.md). Holders sign it
 * in their key attestations.
 * @return 0; PHE_ERR_DKG_STATE (not done); PHE_ERR_INVALID_ARG.
 */
PHE_API int phe_dkg_commitment_hash(const phe_dkg *dkg, uint8_t out[32]);

#ifdef __cplusplus
}
#endif

#endif /* PHE_DKG_H */
