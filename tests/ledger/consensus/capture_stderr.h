/* Tests: catch everything written to file descriptor 2 between two calls, to
 * show that the library prints nothing (its messages go to the log callback).
 * Assert only after capture_end: a failure message would otherwise land in
 * the capture. */
#ifndef CAPTURE_STDERR_H
#define CAPTURE_STDERR_H

#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    int saved; /* the original fd 2 */
    FILE *tmp; /* where fd 2 points meanwhile */
} stderr_capture;

/* 0 on success, −1 if fd 2 could not be redirected. */
static int capture_begin(stderr_capture *c) {
    fflush(stderr);
    c->tmp = tmpfile();
    c->saved = c->tmp ? dup(2) : -1;
    if (c->saved < 0 || dup2(fileno(c->tmp), 2) < 0) {
        if (c->tmp)
            fclose(c->tmp);
        c->tmp = NULL;
        return -1;
    }
    return 0;
}

/* Restore fd 2; return how many bytes were written to it meanwhile (−1 on
 * error), and the first cap−1 of them, NUL-terminated, in buf. */
static long capture_end(stderr_capture *c, char *buf, size_t cap) {
    fflush(stderr);
    dup2(c->saved, 2);
    close(c->saved);
    buf[0] = 0;
    long n = fseek(c->tmp, 0, SEEK_END) == 0 ? ftell(c->tmp) : -1;
    if (n > 0) {
        rewind(c->tmp);
        size_t k = fread(buf, 1, cap - 1, c->tmp);
        buf[k] = 0;
    }
    fclose(c->tmp);
    return n;
}

#endif
