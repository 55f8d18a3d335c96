/* libphe: the passphrase envelope shared by sealed secret keys ("PHEF",
 * docs/formats/phe.md) and sealed threshold key shares ("PHTF",
 * docs/formats/phe-threshold.md), and the files that hold one:
 *
 *   header = magic ‖ u8 version ‖ u64 opslimit ‖ u64 memlimit ‖ salt ‖
 *            nonce ‖ u32 box length                        (65 bytes)
 *   key    = Argon2id(passphrase, salt, opslimit, memlimit)
 *   v2 box = XChaCha20-Poly1305-IETF(plaintext, ad = header, nonce, key)
 *   v1 box = crypto_secretbox_easy(plaintext, nonce, key)   (read only)
 *
 * Version 2 authenticates every header byte as stored. Version 1 did not:
 * libsodium's Argon2id uses memlimit / 1024, so the low ten bits of the
 * memlimit field could change without changing the key. Version 1 files
 * are still read, but only with a memlimit that is a multiple of 1024 (all
 * that libphe ever wrote), which makes every other value of every v1 header
 * byte change the key or fail a check.
 *
 * What differs between the two formats is a field of phei_seal_format,
 * never a branch on the magic. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "phe_internal.h"

#define SEAL_HEADER       (4 + 1 + 8 + 8 + crypto_pwhash_SALTBYTES + crypto_secretbox_NONCEBYTES + 4)
#define SEAL_V1_SECRETBOX 1 /* read only: the header is not authenticated */
#define SEAL_V2_AEAD      2 /* written: the whole header is associated data */

/* Both constructions use a 24-byte nonce, a 32-byte key and a 16-byte tag,
 * so the two versions have the same layout and size. */
_Static_assert(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES == crypto_secretbox_NONCEBYTES,
               "nonce sizes");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == crypto_secretbox_KEYBYTES,
               "key sizes");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_ABYTES == crypto_secretbox_MACBYTES, "tag sizes");

/* The most a reader accepts from a file, checked before any allocation: the
 * strongest limits libphe writes (PHE_KDF_SENSITIVE: 4 passes, 256 MiB). */
#define PHEI_KDF_MAX_OPS ((uint64_t)crypto_pwhash_OPSLIMIT_SENSITIVE)
#define PHEI_KDF_MAX_MEM ((uint64_t)crypto_pwhash_MEMLIMIT_MODERATE)

int phei_kdf_limits(phe_kdf_strength s, uint64_t *ops, uint64_t *mem) {
    switch (s) {
        case PHE_KDF_INTERACTIVE:
            *ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
            *mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
            return 0;
        case PHE_KDF_MODERATE:
            *ops = crypto_pwhash_OPSLIMIT_MODERATE;
            *mem = crypto_pwhash_MEMLIMIT_MODERATE;
            return 0;
        case PHE_KDF_SENSITIVE:
            /* more passes, not more memory: memory is what a reader must
             * allocate before it can authenticate anything (PHEI_KDF_MAX_MEM) */
            *ops = crypto_pwhash_OPSLIMIT_SENSITIVE;
            *mem = crypto_pwhash_MEMLIMIT_MODERATE;
            return 0;
        case PHE_KDF_TEST_ONLY_MIN:
            *ops = crypto_pwhash_OPSLIMIT_MIN;
            *mem = crypto_pwhash_MEMLIMIT_MIN;
            return 0;
        default:
            return PHE_ERR_INVALID_ARG;
    }
}

size_t phei_sealed_size(size_t plain_len) {
    return SEAL_HEADER + plain_len + crypto_secretbox_MACBYTES;
}

static int derive_key(uint8_t key[crypto_secretbox_KEYBYTES], const uint8_t *pass, size_t pass_len,
                      const uint8_t *salt, uint64_t ops, uint64_t mem) {
    static const char empty = 0;
    if (crypto_pwhash(key, crypto_secretbox_KEYBYTES, pass_len ? (const char *)pass : &empty,
                      pass_len, salt, (unsigned long long)ops, (size_t)mem,
                      crypto_pwhash_ALG_ARGON2ID13) != 0)
        return PHE_ERR_NOMEM; /* libsodium fails here only when memory runs out
                                 (or for a passphrase above crypto_pwhash_PASSWD_MAX) */
    return 0;
}

int phei_seal(const phei_seal_format *f, const uint8_t *plain, size_t plain_len,
              const uint8_t *pass, size_t pass_len, phe_kdf_strength strength, phe_rng *rng,
              uint8_t *out, size_t out_len) {
    uint64_t ops, mem;
    if ((plain == NULL && plain_len > 0) || (pass == NULL && pass_len > 0) || out == NULL ||
        phei_kdf_limits(strength, &ops, &mem) != 0)
        return PHE_ERR_INVALID_ARG;
    if (plain_len > UINT32_MAX - crypto_secretbox_MACBYTES)
        return PHE_ERR_INVALID_ARG;
    if (out_len < phei_sealed_size(plain_len))
        return PHE_ERR_BUFFER_TOO_SMALL;
    uint8_t salt[crypto_pwhash_SALTBYTES], nonce[crypto_secretbox_NONCEBYTES];
    uint8_t key[crypto_secretbox_KEYBYTES];
    /* Salt first, then nonce: with a seeded phe_rng the output is reproducible. */
    int rc = phei_rng_bytes(rng, salt, sizeof salt);
    if (rc == 0)
        rc = phei_rng_bytes(rng, nonce, sizeof nonce);
    if (rc == 0)
        rc = derive_key(key, pass, pass_len, salt, ops, mem);
    if (rc == 0) {
        phei_writer w = {out, out_len, 0};
        phei_put_bytes(&w, f->magic, 4);
        phei_put_u8(&w, SEAL_V2_AEAD);
        phei_put_u64(&w, ops);
        phei_put_u64(&w, mem);
        phei_put_bytes(&w, salt, sizeof salt);
        phei_put_bytes(&w, nonce, sizeof nonce);
        phei_put_u32(&w, (uint32_t)(plain_len + crypto_secretbox_MACBYTES));
        if (w.len != SEAL_HEADER ||
            crypto_aead_xchacha20poly1305_ietf_encrypt(out + w.len, NULL, plain, plain_len, out,
                                                       SEAL_HEADER, NULL, nonce, key) != 0)
            rc = PHE_ERR_INTERNAL;
    }
    sodium_memzero(key, sizeof key);
    return rc;
}

int phei_unseal(const phei_seal_format *f, const uint8_t *in, size_t in_len, const uint8_t *pass,
                size_t pass_len, uint8_t **plain, size_t *plain_len) {
    if ((in == NULL && in_len > 0) || (pass == NULL && pass_len > 0) || plain == NULL ||
        plain_len == NULL)
        return PHE_ERR_INVALID_ARG;
    phei_reader r = {in, in_len};
    uint8_t m[4], version;
    if (phei_get_bytes(&r, m, 4) != 0 || memcmp(m, f->magic, 4) != 0 ||
        phei_get_u8(&r, &version) != 0)
        return PHE_ERR_DECODE;
    if (version != SEAL_V1_SECRETBOX && version != SEAL_V2_AEAD)
        return PHE_ERR_VERSION;
    int rc;
    uint64_t ops, mem;
    uint32_t blen;
    uint8_t salt[crypto_pwhash_SALTBYTES], nonce[crypto_secretbox_NONCEBYTES];
    if (phei_get_u64(&r, &ops) != 0 || phei_get_u64(&r, &mem) != 0 ||
        phei_get_bytes(&r, salt, sizeof salt) != 0 ||
        phei_get_bytes(&r, nonce, sizeof nonce) != 0 || phei_get_u32(&r, &blen) != 0)
        return PHE_ERR_DECODE;
    if (blen < crypto_secretbox_MACBYTES || blen > f->max_box || blen != r.left)
        return PHE_ERR_DECODE;
    /* At most what libphe writes (4 passes, 256 MiB), so a hostile file cannot
     * make us allocate more, or work longer, before authentication; at least
     * libsodium's minimum. Refused before any allocation or derivation. */
    if (ops < crypto_pwhash_OPSLIMIT_MIN || ops > PHEI_KDF_MAX_OPS ||
        mem < crypto_pwhash_MEMLIMIT_MIN || mem > PHEI_KDF_MAX_MEM)
        return PHE_ERR_KDF_LIMIT;
    /* Argon2id counts memory in KiB: a memlimit that is not a whole number of
     * KiB names the same key as its rounded-down value, so two headers would
     * open alike. libphe never wrote one; refusing it is what authenticates
     * the low bytes of a v1 header (v2 authenticates them as AD anyway). */
    if (mem % 1024 != 0)
        return PHE_ERR_KDF_LIMIT;
    size_t plen = blen - crypto_secretbox_MACBYTES;
    uint8_t *buf = sodium_malloc(plen ? plen : 1);
    if (buf == NULL)
        return PHE_ERR_NOMEM;
    uint8_t key[crypto_secretbox_KEYBYTES];
    rc = derive_key(key, pass, pass_len, salt, ops, mem);
    if (rc == 0) {
        int bad = version == SEAL_V2_AEAD
                      ? crypto_aead_xchacha20poly1305_ietf_decrypt(buf, NULL, NULL, r.p, blen, in,
                                                                   SEAL_HEADER, nonce, key)
                      : crypto_secretbox_open_easy(buf, r.p, blen, nonce, key);
        if (bad != 0)
            rc = PHE_ERR_AUTH;
    }
    sodium_memzero(key, sizeof key);
    if (rc != 0) {
        sodium_free(buf);
        return rc;
    }
    *plain = buf;
    *plain_len = plen;
    return 0;
}

/* Write all of buf to fd, fsync and close it (closed on every path). */
static int write_sync_close(int fd, const uint8_t *buf, size_t len) {
    int rc = 0;
    size_t off = 0;
    while (off < len) {
        ssize_t k = write(fd, buf + off, len - off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            rc = PHE_ERR_IO;
            break;
        }
        off += (size_t)k;
    }
    if (rc == 0 && fsync(fd) != 0)
        rc = PHE_ERR_IO;
    if (close(fd) != 0 && rc == 0)
        rc = PHE_ERR_IO;
    return rc;
}

int phei_seal_write_file(const phei_seal_format *f, const char *path, const uint8_t *buf,
                         size_t len) {
    if (path == NULL || (buf == NULL && len > 0))
        return PHE_ERR_INVALID_ARG;
    if (f->file_mode == PHEI_SEAL_FILE_NEW) {
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
            return PHE_ERR_IO;
        int rc = write_sync_close(fd, buf, len);
        if (rc != 0)
            unlink(path); /* the file is ours: O_EXCL created it */
        return rc;
    }
    /* PHEI_SEAL_FILE_REPLACE: path.tmpXXX (a fixed name), then rename(). */
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 8);
    if (tmp == NULL)
        return PHE_ERR_NOMEM;
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmpXXX", 8);
    int rc = 0;
    /* Created here with mode 0600, never reused: a temporary left by a crash
     * (or planted with a wider mode, or as a symlink) is removed first, so
     * the secret never lands in a file whose mode someone else chose. */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST && unlink(tmp) == 0)
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = PHE_ERR_IO;
    } else {
        rc = write_sync_close(fd, buf, len);
        if (rc == 0 && rename(tmp, path) != 0)
            rc = PHE_ERR_IO;
        if (rc != 0)
            unlink(tmp);
    }
    free(tmp);
    return rc;
}

int phei_seal_read_file(const phei_seal_format *f, const char *path, uint8_t **buf, size_t *len) {
    if (path == NULL || buf == NULL || len == NULL)
        return PHE_ERR_INVALID_ARG;
    size_t cap = f->max_file;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return PHE_ERR_IO;
    uint8_t *b = malloc(cap + 1);
    if (b == NULL) {
        close(fd);
        return PHE_ERR_NOMEM;
    }
    /* Read one byte more than allowed, so a larger file is seen as such. */
    size_t n = 0;
    int rc = 0;
    while (n <= cap) {
        ssize_t k = read(fd, b + n, cap + 1 - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            rc = PHE_ERR_IO;
            break;
        }
        if (k == 0)
            break;
        n += (size_t)k;
    }
    close(fd);
    if (rc == 0 && n > cap)
        rc = PHE_ERR_DECODE;
    if (rc != 0) {
        free(b);
        return rc;
    }
    *buf = b;
    *len = n;
    return 0;
}
