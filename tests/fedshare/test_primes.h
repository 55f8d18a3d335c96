/* The fedshare C tests deal their 2-of-3 key from the shared checked-in safe
 * primes (tests/fixtures/safe_primes.h), so no test waits for a safe-prime
 * search. Include after <cmocka.h>. */
#ifndef FEDSHARE_TEST_PRIMES_H
#define FEDSHARE_TEST_PRIMES_H

#include <stdio.h>
#include <string.h>

#include "../fixtures/safe_primes.h"

#define PRIME1 SAFE_PRIME_1024_1
#define PRIME2 SAFE_PRIME_1024_2

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
