/* Internal: the replica transport. One epoll event loop per replica, run on
 * one thread; every callback below runs on that thread. TCP on loopback or
 * any IPv4 address; frames are u32 length ‖ body; after the HELLO handshake
 * each body is type ‖ payload ‖ 32-byte keyed BLAKE2b MAC over (u64 link
 * sequence ‖ type ‖ payload), with per-direction keys from an X25519 key
 * exchange whose replica side is signed by the replica's Ed25519 key.
 * Outgoing replica links reconnect with exponential back-off; each
 * connection's send queue is bounded.
 *
 * Limits (docs/ledger-protocol.md §Transport limits): an incoming connection
 * is "pending" until its HELLO is complete; at most max_pending are held (the
 * oldest is evicted for a newcomer), each must finish its HELLO within
 * handshake_ms and its first frame must be exactly a HELLO (read into a
 * fixed buffer in the connection, nothing allocated). Clients that finished
 * the handshake are capped (max_clients, max_clients_per_addr; the least
 * recently active is evicted for a newcomer) and closed after client_idle_ms
 * without traffic; each replica holds at most LC_LINKS_PER_REPLICA incoming
 * links (the older is replaced). Receive buffers grow with the bytes that
 * arrived, never on an announced length. Not installed. */
#ifndef LC_NET_H
#define LC_NET_H

#include <stddef.h>
#include <stdint.h>

typedef struct lc_net lc_net;

typedef struct {
    void *ctx;
    /* An authenticated message. from: replica index, or LC_CLIENT_ID for a
     * client connection (conn identifies it for replies). */
    void (*on_msg)(void *ctx, uint64_t conn, uint32_t from, uint8_t type, const uint8_t *body,
                   size_t n);
    /* Called about every tick_ms and after each batch of events. */
    void (*on_tick)(void *ctx, uint64_t now_ms);
    /* A client connection closed. */
    void (*on_close)(void *ctx, uint64_t conn);
} lc_net_handler;

typedef struct {
    uint32_t self;     /* my replica index, or LC_CLIENT_ID for a client */
    uint32_t n;        /* replicas */
    char (*addrs)[64]; /* n "host:port" */
    const uint8_t (*pks)[32];
    const uint8_t *sk;    /* 64-byte Ed25519 secret key (replicas only) */
    size_t queue_limit;   /* bytes queued per connection before messages are dropped */
    uint32_t tick_ms;     /* timer granularity */
    int listen;           /* 1: listen on addrs[self] */
    int connect_replicas; /* 1: keep an outgoing link to every other replica */
    /* Listening side limits; 0: the default (LC_DEF_*). */
    uint32_t handshake_ms;         /* HELLO deadline (also for our outgoing links) */
    uint32_t max_pending;          /* incoming connections before their HELLO */
    uint32_t max_clients;          /* client connections after their HELLO */
    uint32_t max_clients_per_addr; /* of those, from one IPv4 address */
    uint32_t client_idle_ms;       /* a client connection with no traffic either way */
} lc_net_config;

#define LC_DEF_HANDSHAKE_MS     5000u
#define LC_DEF_MAX_PENDING      4096u
#define LC_DEF_MAX_CLIENTS      1024u
#define LC_DEF_CLIENTS_PER_ADDR 256u
#define LC_DEF_CLIENT_IDLE_MS   300000u
#define LC_LINKS_PER_REPLICA    2u /* incoming authenticated links per replica id */
/* Upper bounds of the limits (the connection table is indexed by 16 bits). */
#define LC_LIM_MAX_PENDING 16384u
#define LC_LIM_MAX_CLIENTS 32768u

/* Counters and gauges of the transport (read from any thread). */
typedef struct {
    uint64_t pending;             /* gauge: incoming connections before their HELLO */
    uint64_t clients;             /* gauge: client connections after their HELLO */
    uint64_t replica_links;       /* gauge: authenticated replica links, both directions */
    uint64_t rx_buffer_bytes;     /* gauge: receive buffer bytes allocated, all connections */
    uint64_t accepted;            /* incoming connections accepted */
    uint64_t handshake_timeouts;  /* closed: HELLO not complete in time */
    uint64_t first_frame_refused; /* closed: first frame length not a HELLO's */
    uint64_t pending_evicted;     /* closed: oldest pending connection, for a newcomer */
    uint64_t clients_evicted;     /* closed: least recently active client, for a newcomer */
    uint64_t idle_closed;         /* closed: client idle too long */
    uint64_t links_replaced;      /* closed: older incoming link of the same replica */
    uint64_t accept_paused;       /* times accepting paused: out of file descriptors */
} lc_net_stats;
void lc_net_get_stats(const lc_net *net, lc_net_stats *out);

int lc_net_create(lc_net **out, const lc_net_config *cfg, const lc_net_handler *h);
/* Run the loop until lc_net_stop; returns 0. */
int lc_net_run(lc_net *net);
/* Thread-safe: ask the loop to return. */
void lc_net_stop(lc_net *net);
/* Thread-safe: wake the loop so that it calls on_tick soon. */
void lc_net_wake(lc_net *net);
void lc_net_free(lc_net *net);

/* Loop thread only. Returns 0, or -1 when the message was dropped (no link,
 * queue full, fault injection). */
int lc_net_send(lc_net *net, uint32_t to, uint8_t type, const uint8_t *body, size_t n);
void lc_net_broadcast(lc_net *net, uint8_t type, const uint8_t *body, size_t n);
int lc_net_send_conn(lc_net *net, uint64_t conn, uint8_t type, const uint8_t *body, size_t n);
/* 1 when replica `to` has an open authenticated outgoing link. */
int lc_net_linked(lc_net *net, uint32_t to);
uint64_t lc_now_ms(void);  /* CLOCK_MONOTONIC */
uint64_t lc_wall_ms(void); /* CLOCK_REALTIME */
int lc_parse_addr(const char *s, void *sockaddr_in_out);

#ifdef LEDGER_FAULT_INJECTION
/* Faults applied to outgoing replica messages (test builds only). */
typedef struct {
    uint32_t drop_permille;
    uint32_t dup_permille;
    uint32_t delay_ms_max; /* each message delayed uniformly in [0, max]: reorders */
    uint64_t blocked;      /* bit j: send nothing to replica j, accept nothing from it */
    uint32_t seed;
} lc_fault;
void lc_net_set_fault(lc_net *net, const lc_fault *f);
#endif

#endif
