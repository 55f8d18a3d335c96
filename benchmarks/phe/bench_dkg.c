/*
 * Dealerless key generation benchmark (benchmarks/suites/dkg.py runs it).
 *
 *   bench_dkg [--bits B] [--holders L] [--t T] [--runs R] [--quick]
 *
 * Each run forks L processes, one per key holder, connected pairwise by
 * socketpairs (full mesh, non-blocking, length-prefixed frames); each runs
 * its own phe_dkg state machine. Wall time is measured by the parent from
 * the fork to the last child's exit. Prints JSON lines: one per run, then
 * the median.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "phe.h"
#include "phe/dkg.h"
#include "phe/threshold.h"

#define MAXL 16

typedef struct peer {
    int fd;
    uint8_t *out;
    size_t out_len, out_off, out_cap;
    uint8_t *in;
    size_t in_len, in_cap;
} peer;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void queue(peer *p, const uint8_t *data, size_t len) {
    size_t need = p->out_len + 4 + len;
    if (need > p->out_cap) {
        size_t nc = p->out_cap ? p->out_cap : 65536;
        while (nc < need) {
            nc *= 2;
        }
        p->out = realloc(p->out, nc);
        if (!p->out) {
            _exit(3);
        }
        p->out_cap = nc;
    }
    uint8_t h[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len};
    memcpy(p->out + p->out_len, h, 4);
    memcpy(p->out + p->out_len + 4, data, len);
    p->out_len += 4 + len;
}

static void route(peer *peers, uint32_t l, uint32_t me, phe_dkg_msg *m, size_t n) {
    for (size_t i = 0; i < n; i++) {
        for (uint32_t j = 1; j <= l; j++) {
            if (j != me && (m[i].to == 0 || m[i].to == j)) {
                queue(&peers[j], m[i].data, m[i].len);
            }
        }
    }
    phe_dkg_msgs_free(m, n);
}

/* One holder: returns 0 and writes "candidates bytes keyid-prefix" to res_fd. */
static int holder(uint32_t bits, uint32_t t, uint32_t l, uint32_t me, peer *peers, int res_fd) {
    uint8_t session[32] = "bench_dkg session";
    phe_dkg *d = NULL;
    phe_dkg_msg *m;
    size_t n;
    int rc;
    if (phe_dkg_new(&d, session, bits, t, l, me, NULL) != 0) {
        return 1;
    }
    if (phe_dkg_start(d, &m, &n) != 0) {
        return 1;
    }
    route(peers, l, me, m, n);
    /* Until done, every outgoing byte written and every peer closed its side. */
    int open_in[MAXL + 1] = {0}, shut[MAXL + 1] = {0}, reported = 0;
    for (uint32_t j = 1; j <= l; j++) {
        open_in[j] = j != me;
    }
    for (;;) {
        int done = phe_dkg_done(d), busy = 0;
        struct pollfd pf[MAXL];
        uint32_t map[MAXL];
        int np = 0;
        if (done && !reported) {
            uint64_t cand = 0, bytes = 0;
            uint32_t rounds = 0;
            char line[256];
            phe_dkg_stats(d, &cand, &bytes, &rounds);
            int len = snprintf(line, sizeof line, "%llu %llu %u\n", (unsigned long long)cand,
                               (unsigned long long)bytes, rounds);
            if (write(res_fd, line, (size_t)len) != len) {
                return 6;
            }
            reported = 1;
        }
        for (uint32_t j = 1; j <= l; j++) {
            if (j == me) {
                continue;
            }
            int want_out = peers[j].out_off < peers[j].out_len;
            if (done && !want_out && !shut[j]) {
                shutdown(peers[j].fd, SHUT_WR);
                shut[j] = 1;
            }
            if (!open_in[j] && !want_out) {
                continue;
            }
            busy = 1;
            pf[np].fd = peers[j].fd;
            pf[np].events = (open_in[j] ? POLLIN : 0) | (want_out ? POLLOUT : 0);
            pf[np].revents = 0;
            map[np++] = j;
        }
        if (done && !busy) {
            break;
        }
        if (!done) {
            int any = 0;
            for (uint32_t j = 1; j <= l; j++) {
                any |= open_in[j];
            }
            if (!any) {
                fprintf(stderr, "holder %u: every peer closed before the end\n", me);
                return 4;
            }
        }
        if (poll(pf, (nfds_t)np, 120000) <= 0) {
            uint32_t rounds = 0;
            phe_dkg_stats(d, NULL, NULL, &rounds);
            fprintf(stderr, "holder %u: no progress in round %u\n", me, rounds);
            return 2;
        }
        for (int k = 0; k < np; k++) {
            peer *p = &peers[map[k]];
            if (pf[k].revents & POLLOUT) {
                ssize_t w = write(p->fd, p->out + p->out_off, p->out_len - p->out_off);
                if (w > 0) {
                    p->out_off += (size_t)w;
                    if (p->out_off == p->out_len) {
                        p->out_off = p->out_len = 0;
                    }
                } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                    return 7;
                }
            }
            if (pf[k].revents & (POLLIN | POLLHUP | POLLERR)) {
                if (p->in_cap - p->in_len < 65536) {
                    p->in_cap = p->in_cap ? 2 * p->in_cap : 1 << 20;
                    p->in = realloc(p->in, p->in_cap);
                    if (!p->in) {
                        return 3;
                    }
                }
                ssize_t r = read(p->fd, p->in + p->in_len, p->in_cap - p->in_len);
                if (r == 0) {
                    /* a holder that is done closes its side; we may still
                     * need the others */
                    open_in[map[k]] = 0;
                }
                if (r > 0) {
                    p->in_len += (size_t)r;
                }
                size_t off = 0;
                while (p->in_len - off >= 4) {
                    size_t len = ((size_t)p->in[off] << 24) | ((size_t)p->in[off + 1] << 16) |
                                 ((size_t)p->in[off + 2] << 8) | p->in[off + 3];
                    if (p->in_len - off - 4 < len) {
                        break;
                    }
                    rc = phe_dkg_handle(d, p->in + off + 4, len, &m, &n);
                    if (rc != 0) {
                        fprintf(stderr, "holder %u: %s\n", me, phe_strerror(rc));
                        return 5;
                    }
                    route(peers, l, me, m, n);
                    off += 4 + len;
                }
                memmove(p->in, p->in + off, p->in_len - off);
                p->in_len -= off;
            }
        }
    }
    phe_dkg_free(d);
    return 0;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    uint32_t bits = 2048, l = 3, t = 2, runs = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--bits") && i + 1 < argc) {
            bits = (uint32_t)atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--holders") && i + 1 < argc) {
            l = (uint32_t)atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--t") && i + 1 < argc) {
            t = (uint32_t)atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--runs") && i + 1 < argc) {
            runs = (uint32_t)atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--quick")) {
            runs = 1;
        }
    }
    if (l < 3 || l > MAXL || runs < 1 || runs > 101) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    double *secs = calloc(runs, sizeof(double));
    double cand_sum = 0, bytes_sum = 0;
    for (uint32_t run = 0; run < runs; run++) {
        int sp[MAXL + 1][MAXL + 1];
        int res[2];
        pid_t pid[MAXL + 1];
        if (pipe(res) != 0) {
            return 1;
        }
        for (uint32_t i = 1; i <= l; i++) {
            for (uint32_t j = i + 1; j <= l; j++) {
                int pr[2];
                if (socketpair(AF_UNIX, SOCK_STREAM, 0, pr) != 0) {
                    return 1;
                }
                sp[i][j] = pr[0];
                sp[j][i] = pr[1];
            }
        }
        double t0 = now();
        for (uint32_t i = 1; i <= l; i++) {
            pid[i] = fork();
            if (pid[i] == 0) {
                peer peers[MAXL + 1];
                memset(peers, 0, sizeof peers);
                for (uint32_t a = 1; a <= l; a++) {
                    for (uint32_t b = 1; b <= l; b++) {
                        if (a != b && a != i && b != i) {
                            close(sp[a][b]);
                        }
                    }
                }
                for (uint32_t j = 1; j <= l; j++) {
                    if (j != i) {
                        peers[j].fd = sp[i][j];
                        fcntl(peers[j].fd, F_SETFL, fcntl(peers[j].fd, F_GETFL) | O_NONBLOCK);
                    }
                }
                close(res[0]);
                alarm(3000); /* never hang a benchmark run */
                _exit(holder(bits, t, l, i, peers, res[1]));
            }
        }
        for (uint32_t a = 1; a <= l; a++) {
            for (uint32_t b = 1; b <= l; b++) {
                if (a != b) {
                    close(sp[a][b]);
                }
            }
        }
        close(res[1]);
        int ok = 1;
        for (uint32_t i = 1; i <= l; i++) {
            int st;
            waitpid(pid[i], &st, 0);
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                ok = 0;
            }
        }
        secs[run] = now() - t0;
        char buf[4096];
        ssize_t got = read(res[0], buf, sizeof buf - 1);
        close(res[0]);
        if (!ok || got <= 0) {
            fprintf(stderr, "run %u failed\n", run);
            return 1;
        }
        buf[got] = 0;
        unsigned long long cand = 0, bytes = 0, maxbytes = 0;
        unsigned rounds = 0;
        char *p = buf;
        for (uint32_t i = 0; i < l; i++) {
            int used = 0;
            if (sscanf(p, "%llu %llu %u\n%n", &cand, &bytes, &rounds, &used) != 3) {
                break;
            }
            if (bytes > maxbytes) {
                maxbytes = bytes;
            }
            p += used;
        }
        cand_sum += (double)cand;
        bytes_sum += (double)maxbytes;
        printf("{\"name\": \"dkg_run_seconds_%u_%u\", \"value\": %.3f, \"unit\": \"s\", "
               "\"candidates\": %llu, \"bytes_per_party\": %llu, \"rounds\": %u, "
               "\"processes\": %u}\n",
               bits, l, secs[run], cand, maxbytes, rounds, l);
        fflush(stdout);
    }
    qsort(secs, runs, sizeof(double), cmp_d);
    double med = runs % 2 ? secs[runs / 2] : (secs[runs / 2 - 1] + secs[runs / 2]) / 2;
    printf("{\"name\": \"dkg_seconds_%u_%u\", \"value\": %.3f, \"unit\": \"s\", \"runs\": %u, "
           "\"mode\": \"separate processes (socketpairs)\", \"t\": %u}\n",
           bits, l, med, runs, t);
    printf("{\"name\": \"dkg_candidates_mean_%u_%u\", \"value\": %.0f, \"unit\": \"candidates\"}\n",
           bits, l, cand_sum / runs);
    printf("{\"name\": \"dkg_bytes_per_party_mean_%u_%u\", \"value\": %.0f, \"unit\": \"B\"}\n",
           bits, l, bytes_sum / runs);
    free(secs);
    return 0;
}
