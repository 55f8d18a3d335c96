/* Canonical binary writer and reader shared by every fedshare encoding
 * (docs/formats/fedshare.md §Conventions): big-endian fixed-width integers,
 * byte strings as u32 length ‖ bytes, lists as u32 count ‖ items. A reader
 * never reads past its end and remembers the first error. */
#ifndef FS_CODEC_H
#define FS_CODEC_H

#include <stddef.h>
#include <stdint.h>

typedef struct fs_writer {
    uint8_t *buf;
    size_t len, cap;
    int err; /* FEDSHARE_E_NOMEM after a failed growth */
} fs_writer;

typedef struct fs_reader {
    const uint8_t *p;
    size_t len, off;
    int err; /* FEDSHARE_E_FORMAT after a short read */
} fs_reader;

void fsw_init(fs_writer *w);
void fsw_free(fs_writer *w);
void fsw_u8(fs_writer *w, uint8_t v);
void fsw_u16(fs_writer *w, uint16_t v);
void fsw_u32(fs_writer *w, uint32_t v);
void fsw_u64(fs_writer *w, uint64_t v);
void fsw_f64(fs_writer *w, double v);
void fsw_raw(fs_writer *w, const void *p, size_t n);
void fsw_bytes(fs_writer *w, const void *p, size_t n); /* u32 length ‖ bytes */
/* Hand the buffer to the caller (NULL when empty or on error). */
int fsw_take(fs_writer *w, uint8_t **out, size_t *len);

void fsr_init(fs_reader *r, const uint8_t *p, size_t len);
uint8_t fsr_u8(fs_reader *r);
uint16_t fsr_u16(fs_reader *r);
uint32_t fsr_u32(fs_reader *r);
uint64_t fsr_u64(fs_reader *r);
double fsr_f64(fs_reader *r); /* refuses NaN and infinities */
void fsr_raw(fs_reader *r, void *out, size_t n);
/* Borrow the next n bytes (NULL and an error when fewer are left). */
const uint8_t *fsr_take(fs_reader *r, size_t n);
/* Borrow a u32-length-prefixed byte string of at most max bytes. */
const uint8_t *fsr_bytes(fs_reader *r, size_t max, size_t *n);
/* Copy a length-prefixed UTF-8-free text field into a fresh NUL-terminated string
 * (no NUL bytes inside, at most max bytes). */
char *fsr_str(fs_reader *r, size_t max);
/* The input was read exactly to its end without error. */
int fsr_done(fs_reader *r);

#endif
