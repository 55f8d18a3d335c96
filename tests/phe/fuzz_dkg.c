/*
 * libFuzzer harness for the dealerless key generation's message decoder
 * (phe_dkg_handle). Holder 1 of a 3-holder, 1024-bit ceremony is started
 * once; every input is one message to it. The first input byte picks how:
 *   0  the input is the whole message (header included)
 *   1  the harness writes a valid header (this session, type data[1] % 12,
 *      sender data[2] % 4, addressed to holder 1 or broadcast by data[3],
 *      round data[4] % 3) and the rest is the payload
 * Bad input must return an error code: never a crash, leak or abort; a
 * message that is accepted may move the state machine on, and the harness
 * then starts a fresh one so every input meets round 1.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "phe.h"
#include "phe/dkg.h"

static const uint8_t SESSION[32] = "fuzz_dkg session";
static phe_dkg *g_d;

static void fresh(void) {
    phe_dkg_msg *m = NULL;
    size_t n = 0;
    phe_dkg_free(g_d);
    g_d = NULL;
    if (phe_dkg_new(&g_d, SESSION, 1024, 2, 3, 1, NULL) != 0 || phe_dkg_start(g_d, &m, &n) != 0) {
        abort(); /* the harness itself is broken, not the library */
    }
    phe_dkg_msgs_free(m, n);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    fresh();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    phe_dkg_msg *m = NULL;
    size_t n = 0;
    uint8_t *buf;
    size_t len;
    uint32_t before = 0, after = 0;
    int rc;
    if (size < 1) {
        return 0;
    }
    if (data[0] % 2 == 0 || size < 5) {
        len = size - 1;
        buf = malloc(len ? len : 1);
        if (!buf) {
            return 0;
        }
        memcpy(buf, data + 1, len);
    } else {
        uint32_t round = 1u + data[4] % 3u, from = data[2] % 4u, to = data[3] & 1 ? 1u : 0u;
        len = 4 + 1 + 32 + 1 + 12 + (size - 5);
        buf = malloc(len);
        if (!buf) {
            return 0;
        }
        memcpy(buf, "PHDK", 4);
        buf[4] = 2;
        memcpy(buf + 5, SESSION, 32);
        buf[37] = (uint8_t)(data[1] % 12);
        for (int k = 0; k < 4; k++) {
            buf[38 + k] = (uint8_t)(from >> (24 - 8 * k));
            buf[42 + k] = (uint8_t)(to >> (24 - 8 * k));
            buf[46 + k] = (uint8_t)(round >> (24 - 8 * k));
        }
        memcpy(buf + 50, data + 5, size - 5);
    }
    phe_dkg_stats(g_d, NULL, NULL, &before);
    rc = phe_dkg_handle(g_d, buf, len, &m, &n);
    if (rc > 0 || (rc != 0 && n != 0)) {
        abort();
    }
    phe_dkg_msgs_free(m, n);
    phe_dkg_stats(g_d, NULL, NULL, &after);
    /* rejected messages leave the state as it was; anything else starts over */
    if (after != before || phe_dkg_done(g_d) ||
        (rc != PHE_ERR_DECODE && rc != PHE_ERR_VERSION && rc != PHE_ERR_DKG_SESSION &&
         rc != PHE_ERR_DKG_ROUND && rc != PHE_ERR_DKG_DUPLICATE)) {
        fresh();
    }
    free(buf);
    return 0;
}
