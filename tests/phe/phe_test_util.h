/* Shared helpers of the libphe C tests: deterministic keys, generated once
 * per test program from fixed seeds. */
#ifndef PHE_TEST_UTIL_H
#define PHE_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include "phe.h"

/* A 2048-bit key from seed `which` (0, 1 …), generated on first use and kept. */
const phe_seckey *test_key(int which);
/* A seeded generator (free with phe_rng_free). */
phe_rng *test_rng(const char *seed);
/* A new ciphertext handle (fails the test on error). */
phe_ciphertext *test_ct(void);
/* Encoding of a secret or public key or ciphertext into a malloc'd buffer. */
uint8_t *test_encode_pubkey(const phe_pubkey *pk, size_t *len);
uint8_t *test_encode_ct(const phe_ciphertext *ct, size_t *len);
/* Hex of len bytes into a malloc'd string. */
char *test_hex(const uint8_t *p, size_t len);

#endif
