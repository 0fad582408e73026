#!/usr/bin/env bash
# Runs the benchmarks quoted in README's performance section, one JSON line each.
# Usage: scripts/bench.sh [out.jsonl]   (release build; takes a few minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-target/bench-results.jsonl}"
cargo build --release -q -p server
p=target/release/puhui
: > "$out"
run() { echo "+ puhui $*" >&2; "$p" "$@" --json | tee -a "$out"; }
run bench ledger --store sqlite --entries 1000000 --concurrency 4096
run bench ledger --store sqlite --entries 3000 --concurrency 1
run bench ledger --store postgres --entries 300000 --concurrency 4096
run bench ledger --store postgres --entries 3000 --concurrency 1
run bench cob --store sqlite --loans "${COB_LOANS:-100000}"
run bench cob --store postgres --loans "${COB_LOANS:-100000}"
if "$p" bench --help | grep -q decision; then run bench decision; fi
echo "results in $out" >&2
