/*
 * libFuzzer harness for the batch decoder (phe_threshold_decshare_batch_decode,
 * "PHTB"). The first input byte picks what follows decoding:
 *   even  a success must re-encode to the same bytes (canonical encoding)
 *   odd   also verify the batch against a fixed 2-of-3 key and a fixed list
 *         of two ciphertexts, combine it with holder 2's honest batch and
 *         (bit 1 set as well) locate its wrong shares: a forged batch must never verify nor
 *         change the combined plaintexts, only its holder may be named,
 *         and locate (against the other holders' honest batches) must find
 *         no wrong share in a batch that verifies
 * Bad input must return an error code: never a crash, leak or abort.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "phe.h"
#include "phe/threshold.h"
#include "../fixtures/safe_primes.h"

#define NCT 2
static const int64_t PLAIN[NCT] = {31337, -7};

static phe_threshold_params *g_pp;
static phe_threshold_keyshare *g_ks[3];
static phe_ciphertext *g_ct[NCT];
static phe_threshold_decshare_batch *g_all[3]; /* every holder's honest batch of g_ct */
#define g_good g_all[1]

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
        phe_threshold_deal_with_primes(&g_pp, g_ks, p, pl, q, ql, 2, 3, rng) != 0) {
        abort(); /* the harness itself is broken, not the library */
    }
    for (int k = 0; k < NCT; k++) {
        if (phe_ciphertext_new(&g_ct[k]) != 0 ||
            phe_encrypt_i64(phe_threshold_params_pubkey(g_pp), g_ct[k], PLAIN[k], rng) != 0) {
            abort();
        }
    }
    for (int h = 0; h < 3; h++) {
        if (phe_threshold_decshare_batch_create(&g_all[h], g_pp, g_ks[h],
                                                (const phe_ciphertext *const *)g_ct, NCT, NULL,
                                                rng) != 0) {
            abort();
        }
    }
    phe_rng_free(rng);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    phe_threshold_decshare_batch *b = NULL;
    const phe_ciphertext *const *cts = (const phe_ciphertext *const *)g_ct;
    if (size < 1) {
        return 0;
    }
    uint8_t which = data[0];
    data++;
    size--;
    if (phe_threshold_decshare_batch_decode(&b, data, size) != 0) {
        if (b) {
            abort();
        }
        return 0;
    }
    {
        size_t n = phe_threshold_decshare_batch_encoded_size(b), w = 0;
        uint8_t *buf = malloc(n ? n : 1);
        if (!buf || n != size || phe_threshold_decshare_batch_encode(b, buf, n, &w) != 0 ||
            w != n || memcmp(buf, data, n) != 0) {
            abort();
        }
        free(buf);
    }
    if (which & 1) {
        int rc = phe_threshold_verify_batch(g_pp, cts, NCT, b);
        const phe_threshold_decshare_batch *set[2] = {g_good, b};
        int64_t m[NCT] = {0};
        uint64_t bad = 0;
        int crc = phe_threshold_combine_batch_int64(g_pp, cts, NCT, set, 2, m, &bad);
        /* combining never succeeds with a batch that does not verify, and a
         * combination that succeeds gives the true plaintexts */
        if ((rc != 0 && crc == 0) || (crc == 0 && (m[0] != PLAIN[0] || m[1] != PLAIN[1]))) {
            abort();
        }
        if (crc != 0 && bad != 0 &&
            bad != ((uint64_t)1 << (phe_threshold_decshare_batch_index(b) - 1))) {
            abort(); /* only the fuzzed batch's holder may be named */
        }
        if (which & 2) {
            /* locate against the two other holders' honest batches: a batch
             * that verifies has no wrong share */
            uint32_t i = phe_threshold_decshare_batch_index(b);
            const phe_threshold_decshare_batch *ref[2];
            uint8_t flags[NCT];
            size_t nbad = 0, r = 0;
            for (uint32_t h = 1; h <= 3; h++) {
                if (h != i && r < 2) {
                    ref[r++] = g_all[h - 1];
                }
            }
            int lrc = phe_threshold_locate_batch(g_pp, cts, NCT, b, ref, 2, flags, &nbad);
            if (rc == 0 && (lrc != 0 || nbad != 0)) {
                abort();
            }
        }
    }
    phe_threshold_decshare_batch_free(b);
    return 0;
}
