/* libfedshare's part of the C text fedshare._native._lib is compiled with. */
#include <fedshare.h>
#include <sodium.h> /* crypto_box for fedshare.dkg (cdef/fedshare_box.cdef) */
#include <stdio.h>

/* fedshare.node's log callback. The libraries print nothing; a node started
 * from Python hands its messages here: to stderr when the caller asked (the
 * `fedshare node` command does), and the last error kept so that a failed
 * start can say why in the exception. */
typedef struct fedshare_py_log {
    int to_stderr;
    char last_error[1024];
} fedshare_py_log;

static void fedshare_py_log_fn(void *ctx, int level, const char *message) {
    fedshare_py_log *l = ctx;
    if (level == LEDGER_LOG_ERROR)
        snprintf(l->last_error, sizeof l->last_error, "%s", message);
    if (l->to_stderr)
        fprintf(stderr, "%s\n", message);
}
