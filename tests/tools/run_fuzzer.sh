#!/usr/bin/env bash
# Bounded libFuzzer run: run_fuzzer.sh FUZZER SECONDS [SEED_DIR]
# Runs from a scratch corpus seeded with SEED_DIR (checked-in inputs), so the
# source tree is never written to; a crash leaves its input in the build dir.
set -euo pipefail
fuzzer=$1
seconds=$2
seeds=${3:-}
work=$(mktemp -d "${TMPDIR:-/tmp}/fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus"
if [ -n "$seeds" ] && [ -d "$seeds" ]; then
  cp -r "$seeds"/. "$work/corpus/" 2>/dev/null || true
fi
artifacts="$(pwd)/fuzz-artifacts/$(basename "$fuzzer")/"
mkdir -p "$artifacts"
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$artifacts" -print_final_stats=1 "$work/corpus"
