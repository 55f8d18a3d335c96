#define _GNU_SOURCE /* accept4 */
/* Replica transport: epoll loop, framing, handshake, link MACs, reconnection,
 * bounded queues and (test builds) fault injection. See lc_net.h. */
#include "lc_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lc_msg.h"

#define BACKOFF_MIN     50
#define BACKOFF_MAX     2000
#define ST_CONNECT      0
#define ST_HELLO        1
#define ST_OPEN         2
#define HELLO_FRAME     (4 + LC_HELLO_BYTES) /* the largest (and only) first frame */
#define RBUF_MIN        16384                /* first receive buffer after the handshake */
#define RBUF_KEEP       (256u << 10)         /* an idle buffer above this is freed */
#define SWEEP_MS        20                   /* how often deadlines are checked */
#define ACCEPT_PAUSE_MS 100                  /* out of descriptors: stop accepting this long */

/* Connection classes; each has its own cap, so no class can take another's room. */
enum { CL_FREE, CL_PENDING, CL_CLIENT, CL_REPLICA_IN, CL_OUT };

typedef struct {
    int used;
    uint32_t gen;
    int fd;
    int outgoing;
    uint32_t peer; /* expected (outgoing) or announced (incoming) id */
    int state;
    uint8_t eph_pk[32], eph_sk[32];
    uint8_t rxk[32], txk[32];
    uint64_t rxseq, txseq;
    uint8_t *rbuf;
    size_t rlen, rcap;
    uint8_t *wbuf;
    size_t woff, wlen, wcap;
    int want_out;
    int dirty; /* queued bytes not yet offered to the kernel */
    int cls;
    int prev, next;  /* class list (pending: by age; clients: least recently active first) */
    uint32_t addr;   /* peer IPv4 address (incoming) */
    uint64_t t_open; /* accept or connect time */
    uint64_t t_last; /* last byte in either direction */
    uint8_t hbuf[HELLO_FRAME]; /* the handshake frame: nothing allocated before it */
    size_t hlen;
} conn;

typedef struct {
    int head, tail;
    uint32_t n;
} clist;

#ifdef LEDGER_FAULT_INJECTION
typedef struct {
    uint64_t at;
    uint32_t to;
    uint8_t type;
    uint8_t *body;
    size_t n;
} delayed;
#endif

struct lc_net {
    lc_net_config cfg;
    lc_net_handler h;
    int ep, lfd, evfd;
    volatile int stop;
    conn *conns;
    size_t nconns;
    int *freelist;
    size_t nfree;
    clist pending, clients;
    uint32_t nreplica_links;
    uint64_t last_sweep;
    uint64_t accept_resume; /* 0: accepting */
    lc_net_stats st;        /* updated with relaxed atomics, read by lc_net_get_stats */
    int out[LC_MAX_REPLICAS];
    uint64_t retry_at[LC_MAX_REPLICAS];
    uint32_t backoff[LC_MAX_REPLICAS];
    uint64_t last_tick;
    int *dirty; /* connections to flush at the end of this loop round */
    size_t ndirty;
#ifdef LEDGER_FAULT_INJECTION
    pthread_mutex_t fmu;
    lc_fault fault;
    uint64_t rng;
    delayed *dq;
    size_t ndq, cdq;
#endif
};

uint64_t lc_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t lc_wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int lc_parse_addr(const char *s, void *out) {
    struct sockaddr_in *sa = out;
    char host[64];
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || (size_t)(colon - s) >= sizeof host)
        return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port <= 0 || port > 65535)
        return -1;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
        return -1;
    return 0;
}

#define STAT_ADD(net, f, k) __atomic_fetch_add(&(net)->st.f, (uint64_t)(k), __ATOMIC_RELAXED)
#define STAT_SUB(net, f, k) __atomic_fetch_sub(&(net)->st.f, (uint64_t)(k), __ATOMIC_RELAXED)

void lc_net_get_stats(const lc_net *net, lc_net_stats *out) {
    const uint64_t *src = (const uint64_t *)&net->st;
    uint64_t *dst = (uint64_t *)out;
    for (size_t i = 0; i < sizeof *out / sizeof(uint64_t); i++)
        dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

static uint64_t conn_id(const lc_net *net, const conn *c) {
    return ((uint64_t)c->gen << 16) | (uint64_t)(c - net->conns);
}

static conn *conn_by_id(lc_net *net, uint64_t id) {
    size_t slot = id & 0xFFFF;
    if (slot >= net->nconns)
        return NULL;
    conn *c = &net->conns[slot];
    return (c->used && c->gen == (uint32_t)(id >> 16)) ? c : NULL;
}

static void set_nb(int fd) {
    int fl = fcntl(fd, F_GETFL, 0);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* ---- class lists ------------------------------------------------------ */

static void list_push(lc_net *net, clist *l, conn *c) {
    int i = (int)(c - net->conns);
    c->prev = l->tail;
    c->next = -1;
    if (l->tail >= 0)
        net->conns[l->tail].next = i;
    else
        l->head = i;
    l->tail = i;
    l->n++;
}

static void list_del(lc_net *net, clist *l, conn *c) {
    if (c->prev >= 0)
        net->conns[c->prev].next = c->next;
    else
        l->head = c->next;
    if (c->next >= 0)
        net->conns[c->next].prev = c->prev;
    else
        l->tail = c->prev;
    c->prev = c->next = -1;
    l->n--;
}

static clist *class_list(lc_net *net, int cls) {
    return cls == CL_PENDING ? &net->pending : cls == CL_CLIENT ? &net->clients : NULL;
}

static void set_class(lc_net *net, conn *c, int cls) {
    clist *l = class_list(net, c->cls);
    if (l)
        list_del(net, l, c);
    if (c->cls == CL_PENDING)
        STAT_SUB(net, pending, 1);
    else if (c->cls == CL_CLIENT)
        STAT_SUB(net, clients, 1);
    c->cls = cls;
    l = class_list(net, cls);
    if (l)
        list_push(net, l, c);
    if (cls == CL_PENDING)
        STAT_ADD(net, pending, 1);
    else if (cls == CL_CLIENT)
        STAT_ADD(net, clients, 1);
}

/* Traffic on a connection: a client moves to the recent end of its list. */
static void touch(lc_net *net, conn *c, uint64_t now) {
    c->t_last = now;
    if (c->cls == CL_CLIENT && net->clients.tail != (int)(c - net->conns)) {
        list_del(net, &net->clients, c);
        list_push(net, &net->clients, c);
    }
}

static void rbuf_free(lc_net *net, conn *c) {
    free(c->rbuf);
    STAT_SUB(net, rx_buffer_bytes, c->rcap);
    c->rbuf = NULL;
    c->rcap = c->rlen = 0;
}

static conn *conn_new(lc_net *net, int fd, int outgoing, uint32_t peer) {
    if (net->nfree == 0)
        return NULL;
    size_t i = (size_t)net->freelist[net->nfree - 1];
    conn *c = &net->conns[i];
    uint32_t gen = c->gen + 1;
    memset(c, 0, sizeof *c);
    c->used = 1;
    c->gen = gen;
    c->fd = fd;
    c->outgoing = outgoing;
    c->peer = peer;
    c->prev = c->next = -1;
    c->t_open = c->t_last = lc_now_ms();
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u64 = conn_id(net, c)};
    if (outgoing)
        ev.events |= EPOLLOUT;
    c->want_out = outgoing;
    if (epoll_ctl(net->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        c->used = 0;
        return NULL;
    }
    net->nfree--;
    c->cls = CL_FREE;
    set_class(net, c, outgoing ? CL_OUT : CL_PENDING);
    return c;
}

static void conn_close(lc_net *net, conn *c) {
    if (!c->used)
        return;
    uint64_t id = conn_id(net, c);
    epoll_ctl(net->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    rbuf_free(net, c);
    free(c->wbuf);
    sodium_memzero(c->eph_sk, 32);
    sodium_memzero(c->rxk, 32);
    sodium_memzero(c->txk, 32);
    int was_client = c->cls == CL_CLIENT;
    if (c->state == ST_OPEN && (c->cls == CL_REPLICA_IN || c->cls == CL_OUT)) {
        net->nreplica_links--;
        STAT_SUB(net, replica_links, 1);
    }
    set_class(net, c, CL_FREE);
    if (c->outgoing && c->peer < LC_MAX_REPLICAS && net->out[c->peer] == (int)(c - net->conns)) {
        net->out[c->peer] = -1;
        uint64_t now = lc_now_ms();
        net->retry_at[c->peer] = now + net->backoff[c->peer];
        net->backoff[c->peer] =
            net->backoff[c->peer] * 2 > BACKOFF_MAX ? BACKOFF_MAX : net->backoff[c->peer] * 2;
    }
    c->used = 0;
    c->rbuf = c->wbuf = NULL;
    net->freelist[net->nfree++] = (int)(c - net->conns);
    if (was_client && net->h.on_close)
        net->h.on_close(net->h.ctx, id);
}

static void update_events(lc_net *net, conn *c) {
    int want = c->state == ST_CONNECT || c->wlen > c->woff;
    if (want == c->want_out)
        return;
    c->want_out = want;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | (want ? EPOLLOUT : 0),
                             .data.u64 = conn_id(net, c)};
    epoll_ctl(net->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Returns -1 when the connection was closed. */
static int flush(lc_net *net, conn *c) {
    while (c->woff < c->wlen) {
        ssize_t k = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);
        if (k > 0) {
            c->woff += (size_t)k;
            touch(net, c, lc_now_ms());
            continue;
        }
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (k < 0 && errno == EINTR)
            continue;
        conn_close(net, c);
        return -1;
    }
    if (c->woff == c->wlen)
        c->woff = c->wlen = 0;
    update_events(net, c);
    return 0;
}

static uint8_t *wreserve(lc_net *net, conn *c, size_t k) {
    size_t queued = c->wlen - c->woff;
    if (queued + k > net->cfg.queue_limit && queued > 0)
        return NULL; /* bounded: a slow peer loses messages, not our memory */
    if (c->woff > 0 && c->wlen + k > c->wcap) {
        memmove(c->wbuf, c->wbuf + c->woff, queued);
        c->wlen = queued;
        c->woff = 0;
    }
    if (c->wlen + k > c->wcap) {
        size_t cap = c->wcap ? c->wcap : 4096;
        while (cap < c->wlen + k)
            cap *= 2;
        uint8_t *nb = realloc(c->wbuf, cap);
        if (!nb)
            return NULL;
        c->wbuf = nb;
        c->wcap = cap;
    }
    uint8_t *q = c->wbuf + c->wlen;
    c->wlen += k;
    return q;
}

static void mac(uint8_t out[32], const uint8_t key[32], uint64_t seq, const uint8_t *p, size_t n) {
    crypto_generichash_state st;
    uint8_t s[8];
    lc_put_u64(s, seq);
    crypto_generichash_init(&st, key, 32, 32);
    crypto_generichash_update(&st, s, 8);
    crypto_generichash_update(&st, p, n);
    crypto_generichash_final(&st, out, 32);
}

static int conn_send(lc_net *net, conn *c, uint8_t type, const uint8_t *body, size_t n) {
    if (c->state != ST_OPEN || n + 1 + LC_MAC_BYTES > LC_MAX_FRAME)
        return -1;
    size_t blen = 1 + n + LC_MAC_BYTES;
    uint8_t *q = wreserve(net, c, 4 + blen);
    if (!q)
        return -1;
    lc_put_u32(q, (uint32_t)blen);
    q[4] = type;
    if (n)
        memcpy(q + 5, body, n);
    mac(q + 5 + n, c->txk, c->txseq++, q + 4, 1 + n);
    /* coalesce: everything sent in one loop round goes out in one send() */
    if (c->dirty)
        return 0;
    if (net->ndirty == net->nconns)
        return flush(net, c) == 0 ? 0 : -1;
    c->dirty = 1;
    net->dirty[net->ndirty++] = (int)(c - net->conns);
    return 0;
}

static void flush_dirty(lc_net *net) {
    for (size_t i = 0; i < net->ndirty; i++) {
        conn *c = &net->conns[net->dirty[i]];
        if (c->used && c->dirty) {
            c->dirty = 0;
            flush(net, c);
        }
    }
    net->ndirty = 0;
}

static int send_hello(lc_net *net, conn *c) {
    lc_hello h;
    uint8_t enc[LC_HELLO_BYTES];
    crypto_kx_keypair(c->eph_pk, c->eph_sk);
    h.role = net->cfg.self == LC_CLIENT_ID ? 1 : 0;
    h.id = net->cfg.self;
    memcpy(h.eph_pk, c->eph_pk, 32);
    memset(h.sig, 0, 64);
    lc_hello_encode(&h, enc);
    if (h.role == 0)
        crypto_sign_detached(enc + LC_HELLO_SIGNED_BYTES, NULL, enc, LC_HELLO_SIGNED_BYTES,
                             net->cfg.sk);
    uint8_t *q = wreserve(net, c, 4 + LC_HELLO_BYTES);
    if (!q)
        return -1;
    lc_put_u32(q, LC_HELLO_BYTES);
    memcpy(q + 4, enc, LC_HELLO_BYTES);
    return flush(net, c);
}

/* A replica's new incoming link: it may hold LC_LINKS_PER_REPLICA; the oldest
 * gives way (a replica that lost a link reconnects before we notice). */
static void make_room_replica(lc_net *net, conn *self, uint32_t id) {
    for (;;) {
        conn *oldest = NULL;
        uint32_t k = 0;
        for (size_t i = 0; i < net->nconns; i++) {
            conn *o = &net->conns[i];
            if (o == self || !o->used || o->cls != CL_REPLICA_IN || o->peer != id)
                continue;
            k++;
            if (!oldest || o->t_open < oldest->t_open)
                oldest = o;
        }
        if (k < LC_LINKS_PER_REPLICA)
            return;
        STAT_ADD(net, links_replaced, 1);
        conn_close(net, oldest);
    }
}

/* A new client: within its address's cap and the total cap, the least
 * recently active client (of that address first) gives way, so that a newcomer
 * is never locked out and holding a slot costs traffic. */
static void make_room_client(lc_net *net, conn *self) {
    uint32_t same = 0;
    conn *lru_same = NULL;
    for (int i = net->clients.head; i >= 0; i = net->conns[i].next) {
        conn *o = &net->conns[i];
        if (o->addr != self->addr)
            continue;
        if (!lru_same)
            lru_same = o;
        same++;
    }
    if (same >= net->cfg.max_clients_per_addr && lru_same) {
        STAT_ADD(net, clients_evicted, 1);
        conn_close(net, lru_same);
    }
    while (net->clients.n >= net->cfg.max_clients && net->clients.head >= 0) {
        STAT_ADD(net, clients_evicted, 1);
        conn_close(net, &net->conns[net->clients.head]);
    }
}

/* Handle the peer's HELLO. Returns -1 to drop the connection. */
static int on_hello(lc_net *net, conn *c, const uint8_t *p, size_t n) {
    lc_hello h;
    if (lc_hello_decode(&h, p, n) != 0)
        return -1;
    if (h.role == 0) {
        if (h.id >= net->cfg.n || h.id == net->cfg.self)
            return -1;
        if (crypto_sign_verify_detached(p + LC_HELLO_SIGNED_BYTES, p, LC_HELLO_SIGNED_BYTES,
                                        net->cfg.pks[h.id]) != 0)
            return -1;
    } else if (c->outgoing || !net->cfg.listen) {
        return -1; /* only a listening replica accepts clients */
    }
    if (c->outgoing) {
        if (h.role != 0 || h.id != c->peer)
            return -1;
        if (crypto_kx_client_session_keys(c->rxk, c->txk, c->eph_pk, c->eph_sk, h.eph_pk) != 0)
            return -1;
        net->backoff[c->peer] = BACKOFF_MIN;
    } else {
        c->peer = h.id;
        if (h.role == 0)
            make_room_replica(net, c, h.id);
        else
            make_room_client(net, c);
        set_class(net, c, h.role == 0 ? CL_REPLICA_IN : CL_CLIENT);
        if (send_hello(net, c) != 0)
            return -1;
        if (crypto_kx_server_session_keys(c->rxk, c->txk, c->eph_pk, c->eph_sk, h.eph_pk) != 0)
            return -1;
    }
    sodium_memzero(c->eph_sk, 32);
    c->state = ST_OPEN;
    if (c->cls != CL_CLIENT) {
        net->nreplica_links++;
        STAT_ADD(net, replica_links, 1);
    }
    return 0;
}

#ifdef LEDGER_FAULT_INJECTION
static uint32_t frand(lc_net *net) {
    net->rng ^= net->rng << 13;
    net->rng ^= net->rng >> 7;
    net->rng ^= net->rng << 17;
    return (uint32_t)(net->rng >> 11);
}
static int blocked(lc_net *net, uint32_t peer) {
    int b = 0;
    if (peer < 64) {
        pthread_mutex_lock(&net->fmu);
        b = (int)((net->fault.blocked >> peer) & 1);
        pthread_mutex_unlock(&net->fmu);
    }
    return b;
}
#endif

/* Before the handshake: read at most one HELLO frame into the connection's own
 * buffer. A first frame of any other length closes the connection at once.
 * Returns 1 when the HELLO is done (the connection is open), 0 when more bytes
 * are needed, -1 when the connection was closed. */
static int read_hello(lc_net *net, conn *c) {
    while (c->hlen < HELLO_FRAME) {
        ssize_t k = recv(c->fd, c->hbuf + c->hlen, HELLO_FRAME - c->hlen, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (k <= 0) {
            conn_close(net, c);
            return -1;
        }
        size_t before = c->hlen;
        c->hlen += (size_t)k;
        touch(net, c, lc_now_ms());
        if (before < 4 && c->hlen >= 4 && lc_get_u32(c->hbuf) != LC_HELLO_BYTES) {
            STAT_ADD(net, first_frame_refused, 1);
            conn_close(net, c);
            return -1;
        }
    }
    if (on_hello(net, c, c->hbuf + 4, LC_HELLO_BYTES) != 0) {
        conn_close(net, c);
        return -1;
    }
    return 1;
}

/* Make room for more bytes: the buffer doubles only when the bytes already
 * received fill it, so it stays within twice what the peer actually sent
 * (never sized from an announced length). Returns -1 on allocation failure. */
static int rbuf_room(lc_net *net, conn *c) {
    if (c->rcap - c->rlen >= 4096)
        return 0;
    size_t cap = c->rcap ? c->rcap * 2 : RBUF_MIN;
    uint8_t *nb = realloc(c->rbuf, cap);
    if (!nb)
        return -1;
    STAT_ADD(net, rx_buffer_bytes, cap - c->rcap);
    c->rbuf = nb;
    c->rcap = cap;
    return 0;
}

/* Returns -1 when the connection was closed. */
static int on_readable(lc_net *net, conn *c) {
    uint64_t id = conn_id(net, c);
    if (c->state != ST_OPEN) {
        int r = read_hello(net, c);
        if (r <= 0)
            return r;
    }
    for (;;) {
        if (rbuf_room(net, c) != 0) {
            conn_close(net, c);
            return -1;
        }
        ssize_t k = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
        if (k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            conn_close(net, c);
            return -1;
        }
        if (k < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        c->rlen += (size_t)k;
        touch(net, c, lc_now_ms());
        size_t off = 0;
        for (;;) {
            const uint8_t *b;
            size_t blen;
            int fr = lc_frame_next(c->rbuf, c->rlen, &off, &b, &blen);
            if (fr < 0) {
                conn_close(net, c); /* oversize or empty frame: the peer is broken */
                return -1;
            }
            if (fr == 0)
                break;
            uint8_t want[32];
            if (blen < 1 + LC_MAC_BYTES) {
                conn_close(net, c);
                return -1;
            }
            mac(want, c->rxk, c->rxseq, b, blen - LC_MAC_BYTES);
            if (sodium_memcmp(want, b + blen - LC_MAC_BYTES, 32) != 0) {
                conn_close(net, c); /* forged or corrupted: drop the link */
                return -1;
            }
            c->rxseq++;
#ifdef LEDGER_FAULT_INJECTION
            if (blocked(net, c->peer))
                continue;
#endif
            if (net->h.on_msg)
                net->h.on_msg(net->h.ctx, id, c->peer, b[0], b + 1, blen - 1 - LC_MAC_BYTES);
            if (conn_by_id(net, id) != c)
                return -1;
        }
        if (off) {
            /* keep the partial frame at the front */
            memmove(c->rbuf, c->rbuf + off, c->rlen - off);
            c->rlen -= off;
        }
    }
    if (c->rlen == 0 && c->rcap > RBUF_KEEP)
        rbuf_free(net, c); /* a big frame is done: do not keep its buffer */
    return 0;
}

static void start_connect(lc_net *net, uint32_t j) {
    struct sockaddr_in sa;
    net->retry_at[j] = lc_now_ms() + net->backoff[j];
    if (lc_parse_addr(net->cfg.addrs[j], &sa) != 0)
        return;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    set_nb(fd);
    int r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    if (r != 0 && errno != EINPROGRESS) {
        close(fd);
        net->backoff[j] = net->backoff[j] * 2 > BACKOFF_MAX ? BACKOFF_MAX : net->backoff[j] * 2;
        return;
    }
    conn *c = conn_new(net, fd, 1, j);
    if (!c) {
        close(fd);
        return;
    }
    c->state = ST_CONNECT;
    net->out[j] = (int)(c - net->conns);
}

static void on_connected(lc_net *net, conn *c) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
        conn_close(net, c);
        return;
    }
    c->state = ST_HELLO;
    if (send_hello(net, c) != 0)
        conn_close(net, c);
}

int lc_net_create(lc_net **out, const lc_net_config *cfg, const lc_net_handler *h) {
    *out = NULL;
    if (cfg->n == 0 || cfg->n > LC_MAX_REPLICAS)
        return -1;
    lc_net *net = calloc(1, sizeof *net);
    if (!net)
        return -1;
    net->cfg = *cfg;
    if (!net->cfg.queue_limit)
        net->cfg.queue_limit = 64u << 20;
    if (!net->cfg.tick_ms)
        net->cfg.tick_ms = 5;
    lc_net_config *k = &net->cfg;
    if (!k->handshake_ms)
        k->handshake_ms = LC_DEF_HANDSHAKE_MS;
    if (!k->max_pending)
        k->max_pending = LC_DEF_MAX_PENDING;
    if (!k->max_clients)
        k->max_clients = LC_DEF_MAX_CLIENTS;
    if (!k->max_clients_per_addr)
        k->max_clients_per_addr = LC_DEF_CLIENTS_PER_ADDR;
    if (!k->client_idle_ms)
        k->client_idle_ms = LC_DEF_CLIENT_IDLE_MS;
    net->h = *h;
    net->lfd = -1;
    net->ep = net->evfd = -1;
    net->pending.head = net->pending.tail = -1;
    net->clients.head = net->clients.tail = -1;
    if (k->max_pending > LC_LIM_MAX_PENDING || k->max_clients > LC_LIM_MAX_CLIENTS) {
        free(net);
        return -1;
    }
    /* Room for every class at its cap at once: pending (one over, while the
     * oldest is evicted), clients, incoming replica links, outgoing links. A
     * class at its cap evicts within itself; it never takes another's room. */
    net->nconns = (size_t)cfg->n * (LC_LINKS_PER_REPLICA + 1) + 2;
    if (cfg->listen)
        net->nconns += (size_t)k->max_pending + k->max_clients + 1;
    net->conns = calloc(net->nconns, sizeof *net->conns);
    net->freelist = malloc(net->nconns * sizeof *net->freelist);
    net->dirty = malloc(net->nconns * sizeof *net->dirty);
    if (!net->conns || !net->freelist || !net->dirty) {
        free(net->conns);
        free(net->freelist);
        free(net->dirty);
        free(net);
        return -1;
    }
    for (size_t i = 0; i < net->nconns; i++)
        net->freelist[i] = (int)(net->nconns - 1 - i);
    net->nfree = net->nconns;
    for (uint32_t j = 0; j < LC_MAX_REPLICAS; j++) {
        net->out[j] = -1;
        net->backoff[j] = BACKOFF_MIN;
    }
#ifdef LEDGER_FAULT_INJECTION
    pthread_mutex_init(&net->fmu, NULL);
    net->rng = 0x9E3779B97F4A7C15ull ^ cfg->self;
#endif
    net->ep = epoll_create1(EPOLL_CLOEXEC);
    net->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (net->ep < 0 || net->evfd < 0)
        goto fail;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = UINT64_MAX};
    if (epoll_ctl(net->ep, EPOLL_CTL_ADD, net->evfd, &ev) != 0)
        goto fail;
    if (cfg->listen) {
        struct sockaddr_in sa;
        if (cfg->self >= cfg->n || lc_parse_addr(cfg->addrs[cfg->self], &sa) != 0)
            goto fail;
        net->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        int one = 1;
        if (net->lfd < 0)
            goto fail;
        setsockopt(net->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(net->lfd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
            listen(net->lfd, SOMAXCONN) != 0)
            goto fail;
        struct epoll_event lev = {.events = EPOLLIN, .data.u64 = UINT64_MAX - 1};
        if (epoll_ctl(net->ep, EPOLL_CTL_ADD, net->lfd, &lev) != 0)
            goto fail;
    }
    *out = net;
    return 0;
fail:
    lc_net_free(net);
    return -1;
}

void lc_net_free(lc_net *net) {
    if (!net)
        return;
    net->h.on_close = NULL; /* no callbacks while freeing */
    for (size_t i = 0; net->conns && i < net->nconns; i++)
        if (net->conns[i].used)
            conn_close(net, &net->conns[i]);
    free(net->conns);
    free(net->freelist);
    free(net->dirty);
    if (net->lfd >= 0)
        close(net->lfd);
    if (net->ep >= 0)
        close(net->ep);
    if (net->evfd >= 0)
        close(net->evfd);
#ifdef LEDGER_FAULT_INJECTION
    for (size_t i = 0; i < net->ndq; i++)
        free(net->dq[i].body);
    free(net->dq);
    pthread_mutex_destroy(&net->fmu);
#endif
    free(net);
}

void lc_net_stop(lc_net *net) {
    net->stop = 1;
    lc_net_wake(net);
}

void lc_net_wake(lc_net *net) {
    uint64_t one = 1;
    ssize_t r = write(net->evfd, &one, sizeof one);
    (void)r;
}

int lc_net_linked(lc_net *net, uint32_t to) {
    if (to >= net->cfg.n || net->out[to] < 0)
        return 0;
    return net->conns[net->out[to]].state == ST_OPEN;
}

static int raw_send(lc_net *net, uint32_t to, uint8_t type, const uint8_t *body, size_t n) {
    if (to >= net->cfg.n || net->out[to] < 0)
        return -1;
    return conn_send(net, &net->conns[net->out[to]], type, body, n);
}

int lc_net_send(lc_net *net, uint32_t to, uint8_t type, const uint8_t *body, size_t n) {
    if (to == net->cfg.self)
        return -1;
#ifdef LEDGER_FAULT_INJECTION
    lc_fault f;
    pthread_mutex_lock(&net->fmu);
    f = net->fault;
    pthread_mutex_unlock(&net->fmu);
    if (to < 64 && ((f.blocked >> to) & 1))
        return -1;
    if (f.drop_permille && frand(net) % 1000 < f.drop_permille)
        return -1;
    int copies = (f.dup_permille && frand(net) % 1000 < f.dup_permille) ? 2 : 1;
    for (int i = 0; i < copies; i++) {
        uint32_t d = f.delay_ms_max ? frand(net) % (f.delay_ms_max + 1) : 0;
        if (d == 0) {
            raw_send(net, to, type, body, n);
            continue;
        }
        if (net->ndq == net->cdq) {
            size_t c = net->cdq ? net->cdq * 2 : 64;
            delayed *nd = realloc(net->dq, c * sizeof *nd);
            if (!nd)
                return -1;
            net->dq = nd;
            net->cdq = c;
        }
        uint8_t *copy = malloc(n ? n : 1);
        if (!copy)
            return -1;
        if (n)
            memcpy(copy, body, n);
        net->dq[net->ndq++] = (delayed){lc_now_ms() + d, to, type, copy, n};
    }
    return 0;
#else
    return raw_send(net, to, type, body, n);
#endif
}

#ifdef LEDGER_FAULT_INJECTION
void lc_net_set_fault(lc_net *net, const lc_fault *f) {
    pthread_mutex_lock(&net->fmu);
    net->fault = *f;
    if (f->seed)
        net->rng = 0x9E3779B97F4A7C15ull ^ ((uint64_t)f->seed << 8) ^ net->cfg.self;
    pthread_mutex_unlock(&net->fmu);
}

static void release_delayed(lc_net *net, uint64_t now) {
    size_t k = 0;
    for (size_t i = 0; i < net->ndq; i++) {
        delayed *d = &net->dq[i];
        if (d->at <= now) {
            raw_send(net, d->to, d->type, d->body, d->n);
            free(d->body);
        } else {
            net->dq[k++] = *d;
        }
    }
    net->ndq = k;
}
#endif

void lc_net_broadcast(lc_net *net, uint8_t type, const uint8_t *body, size_t n) {
    for (uint32_t j = 0; j < net->cfg.n; j++)
        if (j != net->cfg.self)
            lc_net_send(net, j, type, body, n);
}

int lc_net_send_conn(lc_net *net, uint64_t id, uint8_t type, const uint8_t *body, size_t n) {
    conn *c = conn_by_id(net, id);
    if (!c)
        return -1;
    return conn_send(net, c, type, body, n);
}

static void pause_accept(lc_net *net, uint64_t now) {
    struct epoll_event ev = {.events = 0, .data.u64 = UINT64_MAX - 1};
    epoll_ctl(net->ep, EPOLL_CTL_MOD, net->lfd, &ev);
    net->accept_resume = now + ACCEPT_PAUSE_MS;
    STAT_ADD(net, accept_paused, 1);
}

static void do_accept(lc_net *net) {
    for (;;) {
        struct sockaddr_in sa;
        socklen_t slen = sizeof sa;
        int fd = accept4(net->lfd, (struct sockaddr *)&sa, &slen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* out of descriptors: the oldest pending connection gives way;
                 * with none, stop accepting for a while (no busy loop) */
                if (net->pending.head >= 0) {
                    STAT_ADD(net, pending_evicted, 1);
                    conn_close(net, &net->conns[net->pending.head]);
                    continue;
                }
                pause_accept(net, lc_now_ms());
            }
            return;
        }
        set_nb(fd);
        if (net->pending.n >= net->cfg.max_pending && net->pending.head >= 0) {
            /* the oldest gives way: an honest peer sends its HELLO at once,
             * so only a flood faster than max_pending per round trip evicts it */
            STAT_ADD(net, pending_evicted, 1);
            conn_close(net, &net->conns[net->pending.head]);
        }
        conn *c = conn_new(net, fd, 0, LC_CLIENT_ID);
        if (!c) {
            close(fd);
            continue;
        }
        STAT_ADD(net, accepted, 1);
        c->addr = slen >= sizeof sa && sa.sin_family == AF_INET ? sa.sin_addr.s_addr : 0;
        c->state = ST_HELLO;
    }
}

/* Deadlines: pending connections by age (the list is in accept order),
 * clients by inactivity (least recently active first), our own links by age. */
static void sweep(lc_net *net, uint64_t now) {
    while (net->pending.head >= 0) {
        conn *c = &net->conns[net->pending.head];
        if (now - c->t_open < net->cfg.handshake_ms)
            break;
        STAT_ADD(net, handshake_timeouts, 1);
        conn_close(net, c);
    }
    while (net->clients.head >= 0) {
        conn *c = &net->conns[net->clients.head];
        if (now - c->t_last < net->cfg.client_idle_ms)
            break;
        STAT_ADD(net, idle_closed, 1);
        conn_close(net, c);
    }
    for (uint32_t j = 0; j < net->cfg.n; j++) {
        if (net->out[j] < 0)
            continue;
        conn *c = &net->conns[net->out[j]];
        if (c->state != ST_OPEN && now - c->t_open >= net->cfg.handshake_ms) {
            STAT_ADD(net, handshake_timeouts, 1);
            conn_close(net, c);
        }
    }
    if (net->accept_resume && now >= net->accept_resume) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = UINT64_MAX - 1};
        epoll_ctl(net->ep, EPOLL_CTL_MOD, net->lfd, &ev);
        net->accept_resume = 0;
    }
}

int lc_net_run(lc_net *net) {
    struct epoll_event evs[64];
    while (!net->stop) {
        uint64_t now = lc_now_ms();
        if (net->cfg.connect_replicas)
            for (uint32_t j = 0; j < net->cfg.n; j++)
                if (j != net->cfg.self && net->out[j] < 0 && now >= net->retry_at[j])
                    start_connect(net, j);
        int k = epoll_wait(net->ep, evs, 64, (int)net->cfg.tick_ms);
        for (int i = 0; i < k; i++) {
            uint64_t id = evs[i].data.u64;
            if (id == UINT64_MAX) {
                uint64_t v;
                ssize_t r = read(net->evfd, &v, sizeof v);
                (void)r;
                continue;
            }
            if (id == UINT64_MAX - 1) {
                do_accept(net);
                continue;
            }
            conn *c = conn_by_id(net, id);
            if (!c)
                continue;
            if (c->state == ST_CONNECT) {
                if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
                    on_connected(net, c);
                continue;
            }
            if (evs[i].events & EPOLLOUT)
                if (flush(net, c) != 0)
                    continue;
            if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                on_readable(net, c);
        }
        now = lc_now_ms();
        if (now - net->last_sweep >= SWEEP_MS) {
            net->last_sweep = now;
            sweep(net, now);
        }
#ifdef LEDGER_FAULT_INJECTION
        if (net->ndq)
            release_delayed(net, now);
#endif
        if (net->h.on_tick)
            net->h.on_tick(net->h.ctx, now);
        net->last_tick = now;
        flush_dirty(net);
    }
    return 0;
}
