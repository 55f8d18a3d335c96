#!/usr/bin/env bash
# Regenerate libledger/libledger.symbols from a built libledger.so, minus the
# symbols listed by the consensus half (libledger-consensus.symbols and
# src/consensus/node.symbols).
# Usage: tests/ledger/update_symbols.sh build/libledger/libledger.so
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
lib=$1
cons=$(mktemp)
trap 'rm -f "$cons"' EXIT
cat "$root/libledger/libledger-consensus.symbols" "$root/libledger/src/consensus/node.symbols" \
  2>/dev/null | sed 's/#.*//; s/[[:space:]]//g; /^$/d' > "$cons" || true
{
  echo "# Exported symbols of libledger, data and storage half (the consensus half: libledger-consensus.symbols)."
  nm -D --defined-only "$lib" | awk '{print $3}' | sed 's/@.*//' | grep '^ledger_' | sort -u |
    if [ -s "$cons" ]; then grep -vxF -f "$cons"; else cat; fi
} > "$root/libledger/libledger.symbols"
