/**
 * @file ledger.h
 * @brief libledger umbrella header: a consortium ledger (signed transactions,
 * blocks with commit certificates, an LMDB store, inclusion proofs, a
 * pluggable deterministic application) replicated by PBFT.
 *
 * Thread safety: see each module header.
 */
#ifndef LEDGER_H
#define LEDGER_H

#include "ledger/version.h"
#include "ledger/common.h"
#include "ledger/tx.h"
#include "ledger/membership.h"
#include "ledger/block.h"
#include "ledger/app.h"
#include "ledger/proof.h"
#include "ledger/store.h"
#include "ledger/upgrade.h"
#include "ledger/reconfig.h"
#include "ledger/snapshot.h"
#include "ledger/bundle.h"
#include "ledger/kv.h"

/* The consensus half: node, client, configuration. */
#include "ledger/config.h"
#include "ledger/node.h"
#include "ledger/client.h"

#endif /* LEDGER_H */
