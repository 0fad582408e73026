#!/usr/bin/env bash
# The API contract, checked against a live server on a fresh data directory:
#  1. /openapi.json is a valid OpenAPI document (openapi-spec-validator);
#  2. the server keeps it: schemathesis with every check, a fixed seed and a fixed number of
#     examples (at least MIN_REQUESTS requests), zero failures;
#  3. a client generated from it (openapi-python-client, warnings are failures) drives a
#     journey, and the entry's inclusion proof is verified with SHA-256 and Ed25519 alone
#     (scripts/verify_proof.py, as docs/ledger-proofs.md describes).
# Needs the Python packages pinned in scripts/api-contract-requirements.txt in $PYTHON's
# environment. Usage: scripts/api-contract.sh  (BIN=path to use an already built puhui)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
SEED=${SEED:-20261206}
# 70 examples an operation made 17,202 requests over 111 operations (143 s at load average 9),
# well above the floor, in about a third of the time 160 took.
EXAMPLES=${EXAMPLES:-70}
MIN_REQUESTS=${MIN_REQUESTS:-10000}
KEY=contract-key-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
WORK=$(mktemp -d)
SERVER=""
cleanup() {
  if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
start=$(date +%s)

"$PYTHON" -c 'import schemathesis, openapi_spec_validator, openapi_python_client, cryptography' 2>/dev/null || {
  echo "missing Python packages: $PYTHON -m pip install -r scripts/api-contract-requirements.txt" >&2
  exit 1
}
BINDIR=$(dirname "$(command -v "$PYTHON")")
if [ -z "${BIN:-}" ]; then
  cargo build -q -p server --bin puhui
  BIN=target/debug/puhui
fi

# A fresh store with an open business day, so that loan routes answer as they do in use.
"$BIN" cob --data-dir "$WORK/data" --start 2026-01-05 >/dev/null
PUHUI_BOOTSTRAP_API_KEY=$KEY PUHUI_LOG=error "$BIN" serve --data-dir "$WORK/data" \
  --listen 127.0.0.1:0 >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER=$!
BASE=""
for _ in $(seq 200); do
  BASE=$(sed -n 's/^listening on \(http:[^ ]*\)$/\1/p' "$WORK/server.out")
  [ -n "$BASE" ] && break
  kill -0 "$SERVER" 2>/dev/null || { cat "$WORK/server.err" >&2; exit 1; }
  sleep 0.1
done
[ -n "$BASE" ] || { echo "server did not start" >&2; exit 1; }
echo "== server $BASE ($BIN)"

# 1. The document, fetched without a key.
curl -sf "$BASE/openapi.json" -o "$WORK/openapi.json"
"$BINDIR/openapi-spec-validator" "$WORK/openapi.json"

# 2. A generated client drives a journey; the proof it reads is verified offline. It runs
#    before schemathesis, which may revoke the key (an operator may revoke any key).
PATH="$BINDIR:$PATH" "$BINDIR/openapi-python-client" generate --path "$WORK/openapi.json" --output-path "$WORK/client/puhui_client" \
  --meta none --fail-on-warning >"$WORK/gen.out" 2>&1 || { cat "$WORK/gen.out" >&2; exit 1; }
if grep -qi "warning" "$WORK/gen.out"; then cat "$WORK/gen.out" >&2; exit 1; fi
PYTHONPATH="$WORK/client:scripts" "$PYTHON" -W error scripts/api_contract_journey.py "$BASE" "$KEY" "$WORK"


# 3. Schemathesis: every check, reproducible. The read-only switch is left out: turned on,
#    it answers every later change 503 by design (crates/server/tests/it/controls_http.rs).
"$BINDIR/st" --config-file scripts/schemathesis.toml run "$WORK/openapi.json" --url "$BASE" \
  --exclude-path /v1/controls/read-only \
  --checks all --seed "$SEED" --max-examples "$EXAMPLES" \
  --workers 2 -H "Authorization: Bearer $KEY" --no-color --generation-database none \
  >"$WORK/st.out" 2>&1 || { cat "$WORK/st.out"; exit 1; }
sed -n '/= SUMMARY =/,$p' "$WORK/st.out"
generated=$(sed -n 's/^ *\([0-9]*\) generated, .*/\1/p' "$WORK/st.out" | tail -n 1)
[ "${generated:-0}" -ge "$MIN_REQUESTS" ] || { echo "only ${generated:-0} test cases, want $MIN_REQUESTS" >&2; exit 1; }

echo "== api contract passed in $(($(date +%s) - start)) s"
