/* fedshare node: a libledger replica running the contracts, plus a small HTTP
 * endpoint serving health and Prometheus metrics. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <fedavg.h>

#include "app_internal.h"
#include "fedshare/contracts.h"
#include "fedshare/node.h"

#define LAT_SLOTS  4096 /* arrival times of recent transactions, by hash */
#define TPS_WINDOW 64   /* (time, applied count) samples for the TPS figure */
#define LEFT_TASKS 64   /* tasks shown by fedshare_task_participants_left */

struct fedshare_node {
    ledger_node *replica;
    ledger_config *cfg;
    fedshare_consortium *consortium;
    fedshare_app *app;
    ledger_app wrapped; /* the contracts, with counters around them */
    char data_dir[1024];
    uint32_t replicas;
    uint64_t blob_quota; /* bytes per member */
    /* metrics */
    pthread_mutex_t mu;
    uint64_t applied, refused_precheck;
    uint8_t lat_hash[LAT_SLOTS][8];
    uint64_t lat_t0[LAT_SLOTS];
    uint8_t seen[LAT_SLOTS][8]; /* recently executed: a block runs at prepare and at commit */
    double lat_sum_s;
    uint64_t lat_count;
    double lat_last_s;
    uint64_t started_ns;
    uint64_t excluded[FEDSHARE_MEMBERS_MAX]; /* updates left out, by consortium member */
    /* tasks with participants that left (retired mid-task): task id prefix, count */
    uint8_t left_task[LEFT_TASKS][8];
    uint32_t left_count[LEFT_TASKS];
    size_t left_tasks;
    /* endpoint */
    int listen_fd;
    uint32_t port;
    atomic_int stop;
    pthread_t thread;
    int thread_started;
};

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- configuration ---- */

static int starts_with_word(const char *line, size_t len, const char *w) {
    size_t i = 0, n = strlen(w);
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    return len - i >= n && !memcmp(line + i, w, n) &&
           (len - i == n || line[i + n] == ' ' || line[i + n] == '\t' || line[i + n] == '\r' ||
            line[i + n] == '#');
}

int fedshare_config_load(const char *path, char **ledger_text, fedshare_consortium **consortium,
                         uint32_t *metrics_port, uint32_t *err_line) {
    if (!path)
        return FEDSHARE_E_INVALID;
    if (ledger_text)
        *ledger_text = NULL;
    if (consortium)
        *consortium = NULL;
    if (metrics_port)
        *metrics_port = 0;
    if (err_line)
        *err_line = 0;
    char *buf;
    size_t len;
    int rrc = fs_read_config(path, &buf, &len);
    if (rrc)
        return rrc;
    /* directory of the file, for relative paths */
    char dir[1024];
    const char *slash = strrchr(path, '/');
    int dl = slash ? snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path)
                   : snprintf(dir, sizeof dir, ".");
    if (dl <= 0 || (size_t)dl >= sizeof dir) {
        free(buf);
        return FEDSHARE_E_CONFIG;
    }
    size_t cap = len * 2 + 4096, out = 0;
    char *text = malloc(cap);
    if (!text) {
        free(buf);
        return FEDSHARE_E_NOMEM;
    }
    int rc = FEDSHARE_OK;
    uint32_t line = 0, port = 0;
    for (size_t pos = 0; pos < len && !rc;) {
        size_t end = pos;
        while (end < len && buf[end] != '\n')
            end++;
        const char *l = buf + pos;
        size_t ll = end - pos;
        line++;
        /* room for this line as it is (+ '\n', + the final NUL): relative paths
         * made longer below may have used up the slack */
        if (ll + 2 > cap - out) {
            rc = FEDSHARE_E_CONFIG;
            if (err_line)
                *err_line = line;
            break;
        }
        if (starts_with_word(l, ll, "member")) {
            /* the consortium's: parsed below; an empty line keeps the ledger's
             * line numbers those of the file (its errors name the line) */
            text[out++] = '\n';
        } else if (starts_with_word(l, ll, "metrics_port")) {
            text[out++] = '\n';
            unsigned v;
            char tmp[64];
            int n = snprintf(tmp, sizeof tmp, "%.*s", (int)(ll < 63 ? ll : 63), l);
            if (n <= 0 || sscanf(tmp, " metrics_port %u", &v) != 1 || v > 65535) {
                rc = FEDSHARE_E_CONFIG;
                if (err_line)
                    *err_line = line;
            } else
                port = v;
        } else {
            const char *keys[] = {"key_file", "data_dir", "fault_file"};
            int rel = 0;
            for (int k = 0; k < 3; k++)
                if (starts_with_word(l, ll, keys[k])) {
                    size_t i = 0;
                    while (i < ll && (l[i] == ' ' || l[i] == '\t'))
                        i++;
                    i += strlen(keys[k]);
                    while (i < ll && (l[i] == ' ' || l[i] == '\t'))
                        i++;
                    if (i < ll && l[i] != '/') {
                        int n = snprintf(text + out, cap - out, "%s %s/%.*s\n", keys[k], dir,
                                         (int)(ll - i), l + i);
                        if (n < 0 || (size_t)n >= cap - out)
                            rc = FEDSHARE_E_CONFIG;
                        else
                            out += (size_t)n;
                        rel = 1;
                    }
                }
            if (!rel) {
                memcpy(text + out, l, ll);
                out += ll;
                text[out++] = '\n';
            }
        }
        pos = end + 1;
    }
    text[out] = 0;
    fedshare_consortium *c = NULL;
    if (!rc && consortium) {
        uint32_t el = 0;
        rc = fedshare_consortium_parse(&c, buf, len, &el);
        if (rc && err_line)
            *err_line = el;
    }
    free(buf);
    if (rc) {
        free(text);
        return rc;
    }
    if (consortium)
        *consortium = c;
    if (ledger_text)
        *ledger_text = text;
    else
        free(text);
    if (metrics_port)
        *metrics_port = port;
    return FEDSHARE_OK;
}

/* ---- counters around the contracts ---- */

static size_t lat_slot(const uint8_t *h) {
    return ((size_t)h[0] << 8 | h[1]) % LAT_SLOTS;
}

static int wrapped_check(void *ctx, ledger_state *st, const ledger_tx *tx) {
    fedshare_node *n = ctx;
    const ledger_app *a = fedshare_app_table(n->app);
    int rc = a->check(a->ctx, st, tx);
    const uint8_t *h = ledger_tx_hash(tx);
    pthread_mutex_lock(&n->mu);
    if (rc)
        n->refused_precheck++;
    else {
        size_t s = lat_slot(h);
        memcpy(n->lat_hash[s], h, 8);
        n->lat_t0[s] = now_ns();
    }
    pthread_mutex_unlock(&n->mu);
    return rc;
}

/* The upload that completed a round's uploads was judged in the same act:
 * count the updates the rule left out, by consortium member (the metrics'
 * fedshare_updates_excluded_total). Reads only; any failure counts nothing. */
static void count_exclusions(fedshare_node *n, ledger_state *st, const ledger_tx *tx) {
    size_t len;
    const uint8_t *payload = ledger_tx_payload(tx, &len);
    fs_payload p;
    if (fs_payload_decode(FEDSHARE_OP_UPDATE_UPLOAD, payload, len, &p))
        return;
    fs_task *t = malloc(sizeof *t);
    fs_round *r = malloc(sizeof *r);
    const uint8_t *v;
    size_t vn;
    if (t && r && !fs_get(st, FEDSHARE_REC_TASK, p.id, NULL, 0, &v, &vn) &&
        !fs_task_decode(v, vn, t) &&
        !fs_get(st, FEDSHARE_REC_ROUND, p.id, NULL, p.round, &v, &vn) &&
        !fs_round_decode(v, vn, r) && r->n == t->n) {
        int all = 1; /* judged: every participant still in the task uploaded */
        for (uint32_t i = 0; i < r->n; i++)
            all &= r->up[i].present || (t->p[i].joined & FS_P_LEFT) != 0;
        for (uint32_t i = 0; all && i < r->n; i++) {
            int m = fedshare_consortium_find(n->consortium, t->p[i].pk);
            if (r->up[i].verdict == FEDAVG_VERDICT_SUSPICIOUS && m >= 0 && m < FEDSHARE_MEMBERS_MAX)
                n->excluded[m]++;
        }
    }
    free(t);
    free(r);
    fs_payload_free(&p);
}

/* Record a task's count of participants that left (fedshare_task_participants_left);
 * called with n->mu held. A task none left is not shown; beyond LEFT_TASKS tasks
 * the newest are not shown. */
static void note_left(fedshare_node *n, const uint8_t *task_id, const fs_task *t) {
    uint32_t k = 0;
    for (uint32_t i = 0; i < t->n; i++)
        k += (t->p[i].joined & FS_P_LEFT) != 0;
    for (size_t i = 0; i < n->left_tasks; i++)
        if (!memcmp(n->left_task[i], task_id, 8)) {
            n->left_count[i] = k;
            return;
        }
    if (k && n->left_tasks < LEFT_TASKS) {
        memcpy(n->left_task[n->left_tasks], task_id, 8);
        n->left_count[n->left_tasks++] = k;
    }
}

typedef struct left_scan {
    fedshare_node *n;
    fs_task t;
} left_scan;

static int left_scan_one(void *ctx, const uint8_t *key, size_t klen, const uint8_t *v,
                         size_t vlen) {
    left_scan *c = ctx;
    if (klen == strlen("fs/task/") + 32 && !fs_task_decode(v, vlen, &c->t))
        note_left(c->n, key + klen - 32, &c->t);
    return FEDSHARE_OK;
}

/* A membership act may have retired a participant of tasks in progress (it leaves
 * them in the act that decides it): recount every task's participants that left.
 * Reads only; a failure leaves the counts as they were. */
static void count_left(fedshare_node *n, ledger_state *st) {
    left_scan *c = malloc(sizeof *c);
    if (!c)
        return;
    c->n = n;
    fs_state_scan(st, "fs/task/", left_scan_one, c);
    free(c);
}

static int wrapped_apply(void *ctx, ledger_state *st, const ledger_block *b, size_t index,
                         const ledger_tx *tx) {
    fedshare_node *n = ctx;
    const ledger_app *a = fedshare_app_table(n->app);
    int rc = a->apply(a->ctx, st, b, index, tx);
    const uint8_t *h = ledger_tx_hash(tx);
    pthread_mutex_lock(&n->mu);
    size_t s = lat_slot(h);
    if (memcmp(n->seen[s], h, 8)) { /* count each transaction once */
        memcpy(n->seen[s], h, 8);
        n->applied++;
        if (!rc && ledger_tx_op(tx) == FEDSHARE_OP_UPDATE_UPLOAD)
            count_exclusions(n, st, tx);
        if (!rc && (ledger_tx_op(tx) == FEDSHARE_OP_MEMBER_PROPOSE ||
                    ledger_tx_op(tx) == FEDSHARE_OP_MEMBER_APPROVE))
            count_left(n, st);
    }
    if (n->lat_t0[s] && !memcmp(n->lat_hash[s], h, 8)) {
        double d = (double)(now_ns() - n->lat_t0[s]) / 1e9;
        n->lat_sum_s += d;
        n->lat_count++;
        n->lat_last_s = d;
        n->lat_t0[s] = 0;
    }
    pthread_mutex_unlock(&n->mu);
    return rc;
}

static int wrapped_query(void *ctx, ledger_state *st, const uint8_t *q, size_t qlen, uint8_t **out,
                         size_t *out_len) {
    fedshare_node *n = ctx;
    const ledger_app *a = fedshare_app_table(n->app);
    return a->query(a->ctx, st, q, qlen, out, out_len);
}

/* The upgrade channel's governors and migration are the contracts' own. */
static int wrapped_governor(void *ctx, ledger_state *st, const uint8_t key[32], size_t *count) {
    fedshare_node *n = ctx;
    const ledger_app *a = fedshare_app_table(n->app);
    return a->governor(a->ctx, st, key, count);
}

/* Blob puts: consortium members only, each within the node's quota. */
static int blob_authorize(void *ctx, const uint8_t putter[32], uint64_t len, uint64_t *quota) {
    fedshare_node *n = ctx;
    (void)len;
    /* the members the chain records, once it records them (a member added on the chain
     * stores its updates; a retired one no longer stores) — else the configuration's */
    int latest = fs_app_latest_member(n->app, putter);
    if (latest == 0 || (latest < 0 && fedshare_consortium_find(n->consortium, putter) < 0))
        return LEDGER_E_BLOB_DENIED;
    *quota = n->blob_quota;
    return LEDGER_OK;
}

/* ---- metrics ---- */

static uint64_t dir_bytes(const char *dir) {
    char p[1100];
    struct stat sb;
    uint64_t total = 0;
    const char *files[] = {"data.mdb", "lock.mdb"};
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        if (stat(p, &sb) == 0)
            total += (uint64_t)sb.st_blocks * 512u;
    }
    return total;
}

int fedshare_node_metrics(fedshare_node *n, char **text) {
    if (!n || !text)
        return FEDSHARE_E_INVALID;
    size_t members = fedshare_consortium_size(n->consortium);
    size_t cap = 4096 + 512 + members * (FEDSHARE_NAME_MAX + 64) + LEFT_TASKS * 80;
    char *t = malloc(cap);
    if (!t)
        return FEDSHARE_E_NOMEM;
    pthread_mutex_lock(&n->mu);
    uint64_t applied = n->applied, refused = n->refused_precheck, lc = n->lat_count;
    double ls = n->lat_sum_s, last = n->lat_last_s;
    uint64_t excluded[FEDSHARE_MEMBERS_MAX];
    memcpy(excluded, n->excluded, sizeof excluded);
    uint8_t left_task[LEFT_TASKS][8];
    uint32_t left_count[LEFT_TASKS];
    size_t left_tasks = n->left_tasks;
    memcpy(left_task, n->left_task, sizeof left_task);
    memcpy(left_count, n->left_count, sizeof left_count);
    pthread_mutex_unlock(&n->mu);
    double up = (double)(now_ns() - n->started_ns) / 1e9;
    ledger_tip tip;
    memset(&tip, 0, sizeof tip);
    ledger_node_tip(n->replica, &tip);
    uint64_t blob_bytes = 0;
    ledger_node_blob_usage(n->replica, NULL, &blob_bytes);
    int w =
        snprintf(t, 4096,
                 "# HELP fedshare_height Height of the last committed block.\n"
                 "# TYPE fedshare_height gauge\nfedshare_height %llu\n"
                 "# HELP fedshare_view Current PBFT view.\n"
                 "# TYPE fedshare_view gauge\nfedshare_view %llu\n"
                 "# HELP fedshare_transactions_total Transactions executed by this replica.\n"
                 "# TYPE fedshare_transactions_total counter\nfedshare_transactions_total %llu\n"
                 "# HELP fedshare_tps Mean applied transactions per second since start.\n"
                 "# TYPE fedshare_tps gauge\nfedshare_tps %.3f\n"
                 "# HELP fedshare_refused_total Transactions refused before ordering.\n"
                 "# TYPE fedshare_refused_total counter\nfedshare_refused_total %llu\n"
                 "# HELP fedshare_commit_latency_seconds Arrival at this replica to its first "
                 "execution (one consensus round before commit).\n"
                 "# TYPE fedshare_commit_latency_seconds summary\n"
                 "fedshare_commit_latency_seconds_sum %.6f\n"
                 "fedshare_commit_latency_seconds_count %llu\n"
                 "# HELP fedshare_commit_latency_last_seconds Latency of the last commit seen.\n"
                 "# TYPE fedshare_commit_latency_last_seconds gauge\n"
                 "fedshare_commit_latency_last_seconds %.6f\n"
                 "# HELP fedshare_peers Replicas in the configuration besides this one.\n"
                 "# TYPE fedshare_peers gauge\nfedshare_peers %u\n"
                 "# HELP fedshare_disk_bytes Bytes the node's LMDB files occupy.\n"
                 "# TYPE fedshare_disk_bytes gauge\nfedshare_disk_bytes %llu\n"
                 "# HELP fedshare_blob_bytes Blob bytes this node stores (members' signed puts).\n"
                 "# TYPE fedshare_blob_bytes gauge\nfedshare_blob_bytes %llu\n"
                 "# HELP fedshare_uptime_seconds Seconds since the node started.\n"
                 "# TYPE fedshare_uptime_seconds gauge\nfedshare_uptime_seconds %.1f\n",
                 (unsigned long long)tip.height, (unsigned long long)ledger_node_view(n->replica),
                 (unsigned long long)applied, up > 0 ? (double)applied / up : 0.0,
                 (unsigned long long)refused, ls, (unsigned long long)lc, last,
                 n->replicas ? n->replicas - 1 : 0, (unsigned long long)dir_bytes(n->data_dir),
                 (unsigned long long)blob_bytes, up);
    size_t at = w > 0 && (size_t)w < 4096 ? (size_t)w : strlen(t);
    w = snprintf(t + at, cap - at,
                 "# HELP fedshare_updates_excluded_total Updates the task's anomaly rule left "
                 "out of a round's sum, by member (rounds applied since start).\n"
                 "# TYPE fedshare_updates_excluded_total counter\n");
    at += w > 0 ? (size_t)w : 0;
    for (size_t i = 0; i < members && i < FEDSHARE_MEMBERS_MAX && at < cap; i++) {
        const char *name = fedshare_consortium_name(n->consortium, i);
        char alt[32];
        if (!name || strpbrk(name, "\"\\\n")) { /* not a safe label value: its index */
            snprintf(alt, sizeof alt, "member-%zu", i);
            name = alt;
        }
        w = snprintf(t + at, cap - at, "fedshare_updates_excluded_total{member=\"%s\"} %llu\n",
                     name, (unsigned long long)excluded[i]);
        at += w > 0 ? (size_t)w : 0;
    }
    if (at < cap) {
        w = snprintf(t + at, cap - at,
                     "# HELP fedshare_task_participants_left Participants of a task that left it "
                     "(retired from the consortium while it ran), by task id (first 8 bytes).\n"
                     "# TYPE fedshare_task_participants_left gauge\n");
        at += w > 0 ? (size_t)w : 0;
    }
    for (size_t i = 0; i < left_tasks && at < cap; i++) {
        char hex[17];
        for (int j = 0; j < 8; j++)
            snprintf(hex + 2 * j, 3, "%02x", left_task[i][j]);
        w = snprintf(t + at, cap - at, "fedshare_task_participants_left{task=\"%s\"} %u\n", hex,
                     left_count[i]);
        at += w > 0 ? (size_t)w : 0;
    }
    *text = t;
    return FEDSHARE_OK;
}

static void serve_one(fedshare_node *n, int fd) {
    char req[1024];
    size_t got = 0;
    struct pollfd p = {fd, POLLIN, 0};
    /* read the request line (bounded; a slow client gets 1 s) */
    while (got < sizeof req - 1 && poll(&p, 1, 1000) > 0) {
        ssize_t k = read(fd, req + got, sizeof req - 1 - got);
        if (k <= 0)
            break;
        got += (size_t)k;
        req[got] = 0;
        if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
            break;
    }
    req[got] = 0;
    char *body = NULL;
    const char *status = "404 Not Found", *ctype = "text/plain";
    if (!strncmp(req, "GET /metrics", 12)) {
        if (fedshare_node_metrics(n, &body) == FEDSHARE_OK) {
            status = "200 OK";
            ctype = "text/plain; version=0.0.4";
        }
    } else if (!strncmp(req, "GET /health", 11)) {
        body = strdup("ok\n");
        status = "200 OK";
    }
    char head[256];
    size_t blen = body ? strlen(body) : 0;
    int hl = snprintf(head, sizeof head,
                      "HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                      "Connection: close\r\n\r\n",
                      status, ctype, blen);
    if (write(fd, head, (size_t)hl) == hl && blen) {
        ssize_t w = write(fd, body, blen);
        (void)w;
    }
    free(body);
}

static void *metrics_loop(void *arg) {
    fedshare_node *n = arg;
    while (!atomic_load(&n->stop)) {
        struct pollfd p = {n->listen_fd, POLLIN, 0};
        if (poll(&p, 1, 200) <= 0)
            continue;
        int fd = accept(n->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        serve_one(n, fd);
        close(fd);
    }
    return NULL;
}

static int open_metrics(fedshare_node *n, uint32_t port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return FEDSHARE_E_IO;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 16)) {
        close(fd);
        return FEDSHARE_E_IO;
    }
    socklen_t al = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &al);
    n->listen_fd = fd;
    n->port = ntohs(a.sin_port);
    return FEDSHARE_OK;
}

/* ---- start / stop ---- */

int fedshare_node_options_init(fedshare_node_options *opts) {
    if (opts == NULL)
        return FEDSHARE_E_INVALID;
    fedshare_node_options def = FEDSHARE_NODE_OPTIONS_INIT;
    *opts = def;
    return FEDSHARE_OK;
}

int fedshare_node_start(fedshare_node **out, const char *config_path,
                        const fedshare_node_options *opts) {
    fedshare_node_options def = FEDSHARE_NODE_OPTIONS_INIT;
    if (!out || !config_path)
        return FEDSHARE_E_INVALID;
    *out = NULL;
    if (opts && opts->version == 1) /* without the blob fields */
        memcpy(&def, opts, offsetof(fedshare_node_options, blob_quota_mib));
    else if (opts && opts->version == 2) /* without the log callback */
        memcpy(&def, opts, offsetof(fedshare_node_options, log));
    else if (opts)
        def = *opts;
    if (opts && (opts->version < 1 || opts->version > FEDSHARE_NODE_OPTIONS_VERSION))
        return FEDSHARE_E_INVALID;
    if (def.log_level > LEDGER_LOG_DEBUG)
        return FEDSHARE_E_INVALID;
    opts = &def;
    fedshare_node *n = calloc(1, sizeof *n);
    if (!n)
        return FEDSHARE_E_NOMEM;
    n->listen_fd = -1;
    n->blob_quota =
        (uint64_t)(opts->blob_quota_mib ? opts->blob_quota_mib : FEDSHARE_BLOB_QUOTA_MIB_DEFAULT)
        << 20;
    pthread_mutex_init(&n->mu, NULL);
    n->started_ns = now_ns();
    char *text = NULL;
    uint32_t port = 0, line = 0;
    int rc = fedshare_config_load(config_path, &text, &n->consortium, &port, &line);
    char msg[LEDGER_CONFIG_ERROR_BYTES + 64];
    if (rc == FEDSHARE_E_CONFIG && opts->log) {
        snprintf(msg, sizeof msg, "fedshare node: %s: line %u: invalid fedshare setting",
                 config_path, line);
        opts->log(opts->log_ctx, LEDGER_LOG_ERROR, msg);
    }
    char err[LEDGER_CONFIG_ERROR_BYTES];
    if (!rc && ledger_config_parse_ex(&n->cfg, text, strlen(text), err, sizeof err) != LEDGER_OK) {
        rc = FEDSHARE_E_CONFIG;
        if (opts->log && err[0]) {
            snprintf(msg, sizeof msg, "ledger config: %s", err);
            opts->log(opts->log_ctx, LEDGER_LOG_ERROR, msg);
        }
    }
    free(text);
    if (!rc)
        rc = fedshare_app_new(&n->app, n->consortium);
    if (!rc && opts->metrics_port >= 0)
        port = (uint32_t)opts->metrics_port;
    if (!rc && port)
        rc = open_metrics(n, port);
    if (!rc) {
        n->replicas = (uint32_t)ledger_config_replicas(n->cfg);
        const char *dd = opts->data_dir ? opts->data_dir : ledger_config_data_dir(n->cfg);
        snprintf(n->data_dir, sizeof n->data_dir, "%s", dd ? dd : "");
        ledger_app_init(&n->wrapped);
        n->wrapped.ctx = n;
        n->wrapped.check = wrapped_check;
        n->wrapped.apply = wrapped_apply;
        n->wrapped.query = wrapped_query;
        n->wrapped.app_version_max = fedshare_app_table(n->app)->app_version_max;
        n->wrapped.governor = wrapped_governor;
        ledger_node_options lo;
        ledger_node_options_init(&lo);
        lo.id = opts->id;
        lo.data_dir = opts->data_dir;
        lo.seed = opts->seed;
        lo.app = &n->wrapped;
        lo.sync = opts->sync;
        lo.block_period_ms = opts->block_period_ms;
        lo.blob_authorize = blob_authorize;
        lo.blob_ctx = n;
        lo.blob_limit_mib = opts->blob_limit_mib;
        lo.log = opts->log;
        lo.log_ctx = opts->log_ctx;
        lo.log_level = opts->log_level;
        rc = ledger_node_start(&n->replica, n->cfg, &lo);
    }
    if (!rc && n->listen_fd >= 0) {
        if (pthread_create(&n->thread, NULL, metrics_loop, n)) {
            rc = FEDSHARE_E_NOMEM;
        } else
            n->thread_started = 1;
    }
    if (rc) {
        fedshare_node_stop(n);
        return rc;
    }
    *out = n;
    return FEDSHARE_OK;
}

void fedshare_node_stop(fedshare_node *n) {
    if (!n)
        return;
    atomic_store(&n->stop, 1);
    if (n->thread_started)
        pthread_join(n->thread, NULL);
    if (n->listen_fd >= 0)
        close(n->listen_fd);
    ledger_node_stop(n->replica);
    fedshare_app_free(n->app);
    fedshare_consortium_free(n->consortium);
    ledger_config_free(n->cfg);
    pthread_mutex_destroy(&n->mu);
    free(n);
}

ledger_node *fedshare_node_replica(fedshare_node *n) {
    return n ? n->replica : NULL;
}

int fedshare_node_halted(fedshare_node *n, ledger_upgrade_info *info) {
    if (!n || !n->replica)
        return FEDSHARE_E_INVALID;
    return ledger_node_halted(n->replica, info);
}

uint32_t fedshare_node_metrics_port(const fedshare_node *n) {
    return n ? n->port : 0;
}

int fedshare_verify_store(const char *config_path, const char *data_dir, uint64_t *bad_height) {
    if (!config_path || !bad_height)
        return FEDSHARE_E_INVALID;
    *bad_height = 0;
    char *text = NULL;
    fedshare_consortium *c = NULL;
    ledger_config *cfg = NULL;
    ledger_membership *m = NULL;
    fedshare_app *app = NULL;
    ledger_store *s = NULL;
    int rc = fedshare_config_load(config_path, &text, &c, NULL, NULL);
    if (!rc && ledger_config_parse(&cfg, text, strlen(text)) != LEDGER_OK)
        rc = FEDSHARE_E_CONFIG;
    free(text);
    if (!rc && !data_dir)
        data_dir = ledger_config_data_dir(cfg);
    if (!rc && !data_dir)
        rc = FEDSHARE_E_CONFIG;
    if (!rc)
        rc = ledger_config_membership(cfg, &m);
    if (!rc)
        rc = fedshare_app_new(&app, c);
    if (!rc) {
        struct stat sb;
        char p[1100];
        snprintf(p, sizeof p, "%s/data.mdb", data_dir);
        if (stat(p, &sb) != 0)
            rc = FEDSHARE_E_IO; /* do not create an empty store by checking it */
    }
    if (!rc) {
        ledger_store_options o;
        ledger_store_options_init(&o);
        o.verify = LEDGER_VERIFY_NONE;
        rc = ledger_store_open(&s, data_dir, m, fedshare_app_table(app), &o, bad_height);
    }
    if (!rc)
        rc = ledger_verify_chain(s, LEDGER_VERIFY_FULL, bad_height);
    ledger_store_close(s);
    fedshare_app_free(app);
    ledger_membership_free(m);
    ledger_config_free(cfg);
    fedshare_consortium_free(c);
    return rc;
}
