/* bench_auth: the cost of authenticating one consensus message, to justify
 * the transport's choice (docs/ledger-protocol.md §Authentication): keyed
 * BLAKE2b-256 link MAC vs Ed25519 sign and verify of the SHA-256 digest, on
 * a 200-byte message (a PREPARE is 116 bytes, a COMMIT 116). JSON lines. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    int quick = argc > 1 && !strcmp(argv[1], "--quick");
    if (sodium_init() < 0)
        return 1;
    uint8_t msg[200], key[32], mac[32], pk[32], sk[64], sig[64], h[32];
    randombytes_buf(msg, sizeof msg);
    randombytes_buf(key, sizeof key);
    crypto_sign_keypair(pk, sk);
    int n = quick ? 2000 : 20000;
    double t0 = now_s();
    for (int i = 0; i < n * 10; i++) {
        msg[0] = (uint8_t)i;
        crypto_generichash(mac, 32, msg, sizeof msg, key, 32);
    }
    double mac_us = (now_s() - t0) * 1e6 / (n * 10);
    t0 = now_s();
    for (int i = 0; i < n; i++) {
        msg[0] = (uint8_t)i;
        crypto_hash_sha256(h, msg, sizeof msg);
        crypto_sign_detached(sig, NULL, h, 32, sk);
    }
    double sign_us = (now_s() - t0) * 1e6 / n;
    crypto_hash_sha256(h, msg, sizeof msg);
    crypto_sign_detached(sig, NULL, h, 32, sk);
    int bad = 0;
    t0 = now_s();
    for (int i = 0; i < n; i++)
        bad += crypto_sign_verify_detached(sig, h, 32, pk) != 0;
    double verify_us = (now_s() - t0) * 1e6 / n;
    printf("{\"suite\": \"ledger\", \"name\": \"auth_mac_us\", \"value\": %.3f, \"unit\": \"us\", "
           "\"what\": \"BLAKE2b-256 keyed MAC of a 200-byte frame\"}\n",
           mac_us);
    printf("{\"suite\": \"ledger\", \"name\": \"auth_sign_us\", \"value\": %.2f, \"unit\": \"us\", "
           "\"what\": \"SHA-256 + Ed25519 sign\"}\n",
           sign_us);
    printf("{\"suite\": \"ledger\", \"name\": \"auth_verify_us\", \"value\": %.2f, \"unit\": "
           "\"us\", \"what\": \"Ed25519 verify\", \"failures\": %d}\n",
           verify_us, bad);
    printf("{\"suite\": \"ledger\", \"name\": \"auth_verify_over_mac\", \"value\": %.1f, "
           "\"unit\": \"ratio\"}\n",
           verify_us / mac_us);
    return bad ? 1 : 0;
}
