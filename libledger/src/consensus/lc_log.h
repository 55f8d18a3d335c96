/* Internal: the library's only way to say something. A message goes to the
 * caller's ledger_log_fn (ledger/common.h) or nowhere; libledger never writes
 * to stderr or stdout (docs/contributing.md). Not installed. */
#ifndef LC_LOG_H
#define LC_LOG_H

#include <stdarg.h>
#include <stdio.h>

#include "ledger/common.h"

typedef struct {
    ledger_log_fn fn; /* NULL: messages are dropped */
    void *ctx;
    int level; /* deliver messages at this ledger_log_level and below */
} lc_logger;

/* Deliver messages up to LEDGER_LOG_INFO when the caller sets no level. */
#define LC_LOG_DEFAULT_LEVEL LEDGER_LOG_INFO

__attribute__((format(printf, 3, 4))) static inline void lc_log(const lc_logger *lg, int level,
                                                                const char *fmt, ...) {
    if (!lg || !lg->fn || level > lg->level)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    lg->fn(lg->ctx, level, msg);
}

#endif
