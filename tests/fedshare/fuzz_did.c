/* libFuzzer: the did:key decoders (identifier, document, base58) on untrusted text.
 * Checks, beyond "no crash": an accepted DID re-encodes to exactly the input; a
 * refused one leaves every output untouched; base58 decoding re-encodes to the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fedshare.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *s = (const char *)data;

    uint8_t pk[32];
    memset(pk, 0xA5, sizeof pk);
    int rc = fedshare_did_to_pubkey(s, size, pk);
    if (rc == FEDSHARE_OK) {
        char did[FEDSHARE_DID_BUF];
        if (fedshare_did_from_pubkey(pk, did, sizeof did) != FEDSHARE_OK)
            abort();
        if (size != FEDSHARE_DID_KEY_LEN || memcmp(did, s, size) != 0)
            abort();
    } else {
        if (rc != FEDSHARE_E_DID)
            abort();
        for (size_t i = 0; i < sizeof pk; i++)
            if (pk[i] != 0xA5)
                abort();
    }

    size_t need = 0;
    int drc = fedshare_did_document(s, size, NULL, 0, &need);
    if (drc != rc)
        abort();
    if (drc == FEDSHARE_OK) {
        char *doc = malloc(need + 1);
        if (!doc)
            return 0;
        size_t n = 0;
        if (fedshare_did_document(s, size, doc, need + 1, &n) != FEDSHARE_OK || n != need ||
            doc[need] != '\0' || strlen(doc) != need)
            abort();
        free(doc);
    }

    uint8_t bytes[256];
    size_t n = 0;
    rc = fedshare_base58_decode(s, size, bytes, sizeof bytes, &n);
    if (rc == FEDSHARE_OK) {
        char again[400];
        size_t m = 0;
        if (fedshare_base58_encode(bytes, n, again, sizeof again, &m) != FEDSHARE_OK || m != size ||
            memcmp(again, s, size) != 0)
            abort();
    } else if (rc != FEDSHARE_E_FORMAT) {
        abort();
    }
    /* The same input taken as bytes to encode must decode back. */
    if (size <= 256) {
        char txt[400];
        size_t m = 0;
        if (fedshare_base58_encode(data, size, txt, sizeof txt, &m) != FEDSHARE_OK)
            abort();
        if (m <= 256) {
            if (fedshare_base58_decode(txt, m, bytes, sizeof bytes, &n) != FEDSHARE_OK ||
                n != size || memcmp(bytes, data, size) != 0)
                abort();
        }
    }
    return 0;
}
