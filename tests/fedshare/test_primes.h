/* The two checked-in 1024-bit safe primes the fedshare C tests deal their
 * 2-of-3 key from (the same as tests/phe/test_threshold.c's PRIME1, PRIME2),
 * so no test waits for a safe-prime search. Include after <cmocka.h>. */
#ifndef FEDSHARE_TEST_PRIMES_H
#define FEDSHARE_TEST_PRIMES_H

#include <stdio.h>
#include <string.h>

static const char *const PRIME1 =
    "ef79cab547986b8faec3bc2439afacd1bdd32b79fad602d33effaa49e76fcd27"
    "c2fa208e00e72bbb46ce051e2b6cdcd738a01594feb62f2ef8ec6ffdfe5a9268"
    "340357b2837f01507ab75a0a16c247c54bddb92711aa719f3cfd6cb0e46c9e27"
    "a7bf3d1836908b6c65f61693d2c4fea3bd11ba68fcea3aec6e1c654fed47e107";
static const char *const PRIME2 =
    "c8e71ddfad31a4a9734213ae165a4f9d7ea608a07f02630217f4f5f050f1539d"
    "c4bb81abc53a297910cac265811dce3e981befd882d621e5f12606cba84f8a58"
    "a5ff713eaf6cfe4327a2ca492d62205997668be52de080a4ebfee8bdd5c02708"
    "6b966ea81dc1757846c69c165fe19535a5ddb9c04b6c10a28bb01bd2a9ef80ef";

/* Hex text to bytes; returns the byte count. */
static size_t unhex(const char *hex, uint8_t *out) {
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    return n;
}

#endif
