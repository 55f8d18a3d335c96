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

/* A sealed envelope built here with libsodium alone (not libphe's sealing
 * code): magic, version 1, libsodium's MIN Argon2id limits, salt of 0x11,
 * nonce of 0x22, u32 box length, secretbox(plain). out holds
 * 65 + plain_len + 16 bytes; returns that length. */
size_t test_hand_seal(const char magic[4], const uint8_t *plain, size_t plain_len,
                      const uint8_t *pass, size_t pass_len, uint8_t *out);

#endif
