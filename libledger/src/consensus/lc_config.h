/* Internal: the parsed configuration (ledger/config.h). Not installed. */
#ifndef LC_CONFIG_H
#define LC_CONFIG_H

#include "ledger/config.h"
#include "lc_msg.h"

struct ledger_config {
    uint8_t chain_id[32];
    uint32_t f;
    uint32_t n;
    uint32_t genesis_n; /* replicas 0 … genesis_n − 1 form the genesis membership (0: all) */
    char addrs[LC_MAX_REPLICAS][64];
    uint8_t keys[LC_MAX_REPLICAS][32];
    int self;
    int have_seed;
    uint8_t seed[32];
    char data_dir[512];
    uint32_t block_period_ms;
    uint32_t max_block_txs;
    uint32_t checkpoint_every;
    uint32_t view_timeout_ms;
    uint32_t max_inflight;
    uint32_t sync;
    uint32_t handshake_timeout_ms; /* transport limits; 0: the default */
    uint32_t max_pending_conns;
    uint32_t max_clients;
    uint32_t max_clients_per_addr;
    uint32_t client_idle_ms;
    char fault_file[512];
};

#endif
