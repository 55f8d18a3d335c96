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
 * nonce of 0x22, u32 box length, secretbox(plain) -- what earlier builds
 * wrote. out holds 65 + plain_len + 16 bytes; returns that length. */
size_t test_hand_seal(const char magic[4], const uint8_t *plain, size_t plain_len,
                      const uint8_t *pass, size_t pass_len, uint8_t *out);
/* The same header with version 2 and, after it, XChaCha20-Poly1305-IETF of
 * plain with the 65 header bytes as associated data: what libphe writes. */
size_t test_hand_seal_v2(const char magic[4], const uint8_t *plain, size_t plain_len,
                         const uint8_t *pass, size_t pass_len, uint8_t *out);

/* Opens a sealed envelope; 0 when it opens (and frees what it opened). */
typedef int (*test_unseal_fn)(const uint8_t *in, size_t len, const uint8_t *pass, size_t pass_len);
/* Changes each of the 65 header bytes of buf in turn (XOR 0x01, 0x02, 0x04,
 * 0x80 and 0xff, so every bit of every byte and the whole byte) and asserts
 * that none of the changed envelopes opens; buf opens before and after. */
void test_every_header_change_fails(test_unseal_fn open_fn, uint8_t *buf, size_t len,
                                    const uint8_t *pass, size_t pass_len);

#endif
