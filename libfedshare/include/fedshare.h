/**
 * @file fedshare.h
 * @brief libfedshare: the thin orchestration layer that composes libphe,
 * libledger, libfedavg and libabac into one system — identities (did:key),
 * the contracts (registry, permission, training, audit) as one libledger
 * application, the node, and the client operations of each participant
 * (docs/fedshare-architecture.md).
 *
 * Thread safety: see each module header.
 */
#ifndef FEDSHARE_H
#define FEDSHARE_H

#include "fedshare/common.h"
#include "fedshare/did.h"
#include "fedshare/consortium.h"
#include "fedshare/contracts.h"
#include "fedshare/node.h"
#include "fedshare/client.h"

#endif /* FEDSHARE_H */
