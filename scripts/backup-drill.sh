#!/usr/bin/env bash
# The backup and restore drill on a large book (docs/operations.md):
#   scripts/backup-drill.sh sqlite 1000000
#   scripts/backup-drill.sh postgres 1000000
# Builds a book of LOANS term loans with `puhui bench cob`, serves it, saves the signed tree
# head, takes an online backup while a client keeps posting entries, restores it into a new
# data directory or database, runs `ledger verify` on the copy and checks that the copy's
# ledger extends the saved head. Prints each step's time. Needs a release build
# (`cargo build --release`; BIN overrides the binary) and curl.
set -euo pipefail
cd "$(dirname "$0")/.."
backend="${1:-sqlite}"
loans="${2:-100000}"
BIN="${BIN:-target/release/puhui}"
PG="${PUHUI_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
KEY="drill-operator-key-0123456789"
# PostgreSQL stores refuse to serve without a master key for personal data (docs/security.md).
export PUHUI_MASTER_KEY="${PUHUI_MASTER_KEY:-1:$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')}"
work="$(mktemp -d "${TMPDIR:-/tmp}/puhui-drill.XXXXXX")"
server_pid=""
load_pid=""
cleanup() {
  [ -n "$load_pid" ] && kill "$load_pid" 2>/dev/null || true
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

echo "building a book of $loans loans on $backend"
t=$(now)
if [ "$backend" = sqlite ]; then
  "$BIN" bench cob --store sqlite --loans "$loans" --keep-data --data-dir "$work/bench" --json \
    2>"$work/bench.err" >/dev/null
  src="$(grep -o "$work/bench/[^ ]*" "$work/bench.err" | head -1)"
  flag=(--data-dir)
  target="$work/restored"
else
  "$BIN" bench cob --store postgres --loans "$loans" --postgres-url "$PG" --json >/dev/null
  src_db="$(psql "$PG" -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'puhui_bench_%' ORDER BY oid DESC LIMIT 1")"
  src="${PG%/*}/$src_db"
  target_db="puhui_bench_restore_$$"
  psql "$PG" -qc "CREATE DATABASE $target_db"
  target="${PG%/*}/$target_db"
  flag=(--database-url)
fi
echo "book built in $(took "$t") s: $src"

PUHUI_BOOTSTRAP_API_KEY="$KEY" PUHUI_LOG=warn "$BIN" serve "${flag[@]}" "$src" --listen 127.0.0.1:0 \
  >"$work/serve.out" 2>"$work/serve.err" &
server_pid=$!
for _ in $(seq 1 600); do grep -q "listening on" "$work/serve.out" 2>/dev/null && break; sleep 0.5; done
base="$(sed -n 's/^listening on //p' "$work/serve.out" | head -1)"
[ -n "$base" ] || { cat "$work/serve.err"; echo "the server did not start"; exit 1; }
curl -fsS -H "authorization: Bearer $KEY" "$base/v1/ledger/tree-head" >"$work/head.json"
echo "signed head: $(cat "$work/head.json" | head -c 120)…"

account() {
  curl -fsS -H "authorization: Bearer $KEY" -H 'content-type: application/json' \
    -d '{"owner":"drill","purpose":"drill","currency":"CNY"}' "$base/v1/accounts" |
    sed 's/.*"id":"\([^"]*\)".*/\1/'
}
a="$(account)"; b="$(account)"
(
  while true; do
    id="$(cat /proc/sys/kernel/random/uuid)"
    curl -fsS -o /dev/null -H "authorization: Bearer $KEY" -H "idempotency-key: $id" \
      -H 'content-type: application/json' \
      -d "{\"id\":\"$id\",\"currency\":\"CNY\",\"postings\":[{\"account_id\":\"$a\",\"direction\":\"debit\",\"amount_minor\":1},{\"account_id\":\"$b\",\"direction\":\"credit\",\"amount_minor\":1}]}" \
      "$base/v1/ledger/entries" && echo ok >>"$work/acked"
  done
) &
load_pid=$!
sleep 1

t=$(now)
"$BIN" backup create "${flag[@]}" "$src" --out "$work/backup" --json
echo "online backup: $(took "$t") s, $(wc -l <"$work/acked" 2>/dev/null || echo 0) entries acknowledged meanwhile"
kill "$load_pid"; load_pid=""
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""

t=$(now)
"$BIN" backup restore "${flag[@]}" "$target" --from "$work/backup" --json
echo "restore: $(took "$t") s"
t=$(now)
"$BIN" ledger verify "${flag[@]}" "$target" --json | head -c 300; echo
echo "verify: $(took "$t") s"
t=$(now)
"$BIN" ledger extends "${flag[@]}" "$target" --head "$work/head.json" --json
echo "extends: $(took "$t") s"
if [ "$backend" = postgres ]; then
  psql "$PG" -qc "DROP DATABASE IF EXISTS $target_db" || true
  psql "$PG" -qc "DROP DATABASE IF EXISTS $src_db" || true
fi
