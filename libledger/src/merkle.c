/* libledger: the Merkle tree of a block's transactions, as in RFC 6962 §2.1
 * (leaf = SHA-256(0x00 ‖ tx hash), node = SHA-256(0x01 ‖ left ‖ right),
 * empty tree = SHA-256("")). Built bottom-up: an unpaired last node is promoted
 * unchanged to the next level, which gives exactly RFC 6962's split at the
 * largest power of two below n. Audit paths and their verification follow
 * RFC 9162 §2.1.3. */
#include "internal.h"

#include <sodium.h>

static void leaf_hash(uint8_t out[32], const uint8_t tx_hash[32]) {
    uint8_t buf[33];
    buf[0] = 0x00;
    memcpy(buf + 1, tx_hash, 32);
    crypto_hash_sha256(out, buf, sizeof buf);
}

static void node_hash(uint8_t out[32], const uint8_t l[32], const uint8_t r[32]) {
    uint8_t buf[65];
    buf[0] = 0x01;
    memcpy(buf + 1, l, 32);
    memcpy(buf + 33, r, 32);
    crypto_hash_sha256(out, buf, sizeof buf);
}

/* Leaf hashes of n tx hashes into a new buffer. */
static uint8_t *leaves(const uint8_t *hashes, size_t n) {
    uint8_t *lv = malloc(32 * n);
    if (!lv)
        return NULL;
    for (size_t i = 0; i < n; i++)
        leaf_hash(lv + 32 * i, hashes + 32 * i);
    return lv;
}

/* Reduce one level in place; returns the new size. */
static size_t reduce(uint8_t *lv, size_t size) {
    size_t out = 0;
    for (size_t i = 0; i < size; i += 2, out++) {
        if (i + 1 < size)
            node_hash(lv + 32 * out, lv + 32 * i, lv + 32 * (i + 1));
        else
            memmove(lv + 32 * out, lv + 32 * i, 32);
    }
    return out;
}

int ledger_merkle_root(const uint8_t *hashes, size_t n, uint8_t root[32]) {
    if (!root || (!hashes && n))
        return LEDGER_E_INVALID;
    if (n == 0) {
        crypto_hash_sha256(root, NULL, 0);
        return LEDGER_OK;
    }
    uint8_t *lv = leaves(hashes, n);
    if (!lv)
        return LEDGER_E_NOMEM;
    size_t size = n;
    while (size > 1)
        size = reduce(lv, size);
    memcpy(root, lv, 32);
    free(lv);
    return LEDGER_OK;
}

size_t ldg_merkle_path_len(size_t index, size_t n) {
    size_t len = 0;
    while (n > 1) {
        if ((index ^ 1) < n)
            len++;
        index >>= 1;
        n = (n + 1) / 2;
    }
    return len;
}

int ldg_merkle_verify(const uint8_t leaf_tx_hash[32], size_t index, size_t n, const uint8_t *path,
                      size_t path_len, const uint8_t root[32]) {
    if (index >= n)
        return LEDGER_E_HASH;
    uint64_t fn = index, sn = n - 1;
    uint8_t r[32];
    leaf_hash(r, leaf_tx_hash);
    for (size_t k = 0; k < path_len; k++) {
        const uint8_t *p = path + 32 * k;
        if (sn == 0)
            return LEDGER_E_HASH;
        if ((fn & 1) || fn == sn) {
            node_hash(r, p, r);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            node_hash(r, r, p);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0 || sodium_memcmp(r, root, 32) != 0)
        return LEDGER_E_HASH;
    return LEDGER_OK;
}

size_t ldg_merkle_tree_nodes(size_t n) {
    size_t total = 0;
    while (n > 1) {
        total += n;
        n = (n + 1) / 2;
    }
    return total + n;
}

int ldg_merkle_tree(const uint8_t *hashes, size_t n, uint8_t **tree, uint8_t root[32]) {
    *tree = NULL;
    if (n == 0) {
        crypto_hash_sha256(root, NULL, 0);
        return LEDGER_OK;
    }
    uint8_t *t = malloc(32 * ldg_merkle_tree_nodes(n));
    if (!t)
        return LEDGER_E_NOMEM;
    for (size_t i = 0; i < n; i++)
        leaf_hash(t + 32 * i, hashes + 32 * i);
    uint8_t *lv = t;
    size_t size = n;
    while (size > 1) {
        uint8_t *up = lv + 32 * size;
        size_t k = 0;
        for (size_t i = 0; i < size; i += 2, k++) {
            if (i + 1 < size)
                node_hash(up + 32 * k, lv + 32 * i, lv + 32 * (i + 1));
            else
                memcpy(up + 32 * k, lv + 32 * i, 32);
        }
        lv = up;
        size = k;
    }
    memcpy(root, lv, 32);
    *tree = t;
    return LEDGER_OK;
}

int ldg_merkle_tree_path(const uint8_t *tree, size_t n, size_t index, uint8_t **path,
                         size_t *path_len) {
    *path = NULL;
    *path_len = 0;
    if (index >= n)
        return LEDGER_E_INVALID;
    size_t plen = ldg_merkle_path_len(index, n);
    uint8_t *p = malloc(plen ? 32 * plen : 1);
    if (!p)
        return LEDGER_E_NOMEM;
    const uint8_t *lv = tree;
    size_t size = n, i = index, k = 0;
    while (size > 1) {
        if ((i ^ 1) < size)
            memcpy(p + 32 * k++, lv + 32 * (i ^ 1), 32);
        lv += 32 * size;
        size = (size + 1) / 2;
        i >>= 1;
    }
    *path = p;
    *path_len = plen;
    return LEDGER_OK;
}
