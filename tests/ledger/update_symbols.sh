#!/usr/bin/env bash
# Regenerate libledger/libledger.symbols from a built libledger.so, minus the
# symbols listed in libledger-consensus.symbols (the consensus half's list).
# Usage: tests/ledger/update_symbols.sh build/libledger/libledger.so
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
lib=$1
cons="$root/libledger/libledger-consensus.symbols"
{
  echo "# Exported symbols of libledger, data and storage half (the consensus half: libledger-consensus.symbols)."
  nm -D --defined-only "$lib" | awk '{print $3}' | sed 's/@.*//' | grep '^ledger_' | sort -u |
    if [ -f "$cons" ]; then grep -vxF -f <(sed 's/#.*//; s/[[:space:]]//g; /^$/d' "$cons"); else cat; fi
} > "$root/libledger/libledger.symbols"
