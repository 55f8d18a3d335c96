/*
 * libFuzzer harness for every threshold decoder. The first input byte picks
 * the decoder; the rest is its input:
 *   0  phe_threshold_params_decode     (a success must re-encode to the same bytes)
 *   1  phe_threshold_keyshare_decode   (same)
 *   2  phe_threshold_decshare_decode   (same)
 *   3  phe_threshold_keyshare_unseal   (only inputs whose Argon2id limits are
 *                                       libsodium's MIN, so each run stays fast)
 *   4  decshare decode, then verify and combine against a fixed 2-of-3 key
 *      (a forged share must never verify nor change the combined plaintext)
 * Bad input must return an error code: never a crash, leak or abort.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "phe.h"
#include "phe/threshold.h"
#include "../fixtures/safe_primes.h"

static phe_threshold_params *g_pp;
static phe_threshold_keyshare *g_ks[3];
static phe_ciphertext *g_ct;
static phe_threshold_decshare *g_good; /* holder 2's share of g_ct */

#define FUZZ_PLAINTEXT 31337

static size_t unhex(const char *hex, uint8_t *out) {
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned hi = (unsigned)(hex[2 * i] <= '9' ? hex[2 * i] - '0' : hex[2 * i] - 'a' + 10);
        unsigned lo =
            (unsigned)(hex[2 * i + 1] <= '9' ? hex[2 * i + 1] - '0' : hex[2 * i + 1] - 'a' + 10);
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return n;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    uint8_t p[128], q[128];
    size_t pl = unhex(SAFE_PRIME_1024_1, p), ql = unhex(SAFE_PRIME_1024_2, q);
    phe_rng *rng = NULL;
    (void)argc;
    (void)argv;
    if (phe_rng_new_seeded(&rng, (const uint8_t *)"fuzz-threshold", 14) != 0 ||
        phe_threshold_deal_with_primes(&g_pp, g_ks, p, pl, q, ql, 2, 3, rng) != 0 ||
        phe_ciphertext_new(&g_ct) != 0 ||
        phe_encrypt_i64(phe_threshold_params_pubkey(g_pp), g_ct, FUZZ_PLAINTEXT, rng) != 0 ||
        phe_threshold_decshare_create(&g_good, g_pp, g_ks[1], g_ct, rng) != 0) {
        abort(); /* the harness itself is broken, not the library */
    }
    phe_rng_free(rng);
    return 0;
}

/* A decoded object re-encodes to exactly its input (canonical encodings). */
#define CHECK_CANONICAL(obj, size_fn, enc_fn, data, size)                                          \
    do {                                                                                           \
        size_t n_ = size_fn(obj), w_ = 0;                                                          \
        uint8_t *b_ = malloc(n_ ? n_ : 1);                                                         \
        if (!b_ || n_ != (size) || enc_fn(obj, b_, n_, &w_) != 0 || w_ != n_ ||                    \
            memcmp(b_, data, n_) != 0) {                                                           \
            abort();                                                                               \
        }                                                                                          \
        free(b_);                                                                                  \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) {
        return 0;
    }
    uint8_t which = data[0];
    data++;
    size--;
    switch (which % 5) {
        case 0: {
            phe_threshold_params *pp = NULL;
            if (phe_threshold_params_decode(&pp, data, size) == 0) {
                CHECK_CANONICAL(pp, phe_threshold_params_encoded_size, phe_threshold_params_encode,
                                data, size);
                phe_threshold_params_free(pp);
            } else if (pp) {
                abort();
            }
            break;
        }
        case 1: {
            phe_threshold_keyshare *ks = NULL;
            if (phe_threshold_keyshare_decode(&ks, data, size) == 0) {
                CHECK_CANONICAL(ks, phe_threshold_keyshare_encoded_size,
                                phe_threshold_keyshare_encode, data, size);
                (void)phe_threshold_keyshare_check(g_pp, ks);
                phe_threshold_keyshare_free(ks);
            } else if (ks) {
                abort();
            }
            break;
        }
        case 2: {
            phe_threshold_decshare *ds = NULL;
            if (phe_threshold_decshare_decode(&ds, data, size) == 0) {
                CHECK_CANONICAL(ds, phe_threshold_decshare_encoded_size,
                                phe_threshold_decshare_encode, data, size);
                phe_threshold_decshare_free(ds);
            } else if (ds) {
                abort();
            }
            break;
        }
        case 3: {
            /* header: magic 4, version 1, u64 opslimit, u64 memlimit */
            static const uint8_t min_limits[16] = {0, 0, 0, 0, 0, 0, 0,    1,
                                                   0, 0, 0, 0, 0, 0, 0x20, 0};
            phe_threshold_keyshare *ks = NULL;
            if (size >= 21 && memcmp(data + 5, min_limits, 16) != 0) {
                break; /* other limits cost up to a second per run */
            }
            if (phe_threshold_keyshare_unseal(&ks, data, size, (const uint8_t *)"fuzz", 4) == 0) {
                phe_threshold_keyshare_free(ks);
            } else if (ks) {
                abort();
            }
            break;
        }
        default: {
            phe_threshold_decshare *ds = NULL;
            if (phe_threshold_decshare_decode(&ds, data, size) == 0) {
                int rc = phe_threshold_decshare_verify(g_pp, g_ct, ds);
                const phe_threshold_decshare *set[2] = {g_good, ds};
                int64_t m = 0;
                int crc = phe_threshold_combine_int64(g_pp, g_ct, set, 2, &m);
                /* combining never succeeds with a share that does not verify,
                 * and a combination that succeeds gives the true plaintext */
                if ((rc != 0 && crc == 0) || (crc == 0 && m != FUZZ_PLAINTEXT)) {
                    abort();
                }
                phe_threshold_decshare_free(ds);
            }
            break;
        }
    }
    return 0;
}
