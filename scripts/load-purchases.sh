#!/usr/bin/env bash
# HTTP load of purchases (authorize + capture in one request, `"capture": true`) against a
# release server on a fresh SQLite data directory, driven by wrk. Prints wrk's summary with
# latency percentiles. Usage: scripts/load-purchases.sh [duration] [connections]
# Purchase ids are time-ordered, as UUIDv7 ids are (a per-thread sequence in the leading
# bytes where a UUIDv7 has its timestamp); ID_ORDER=random puts the sequence last instead.
# KEY_KIND=merchant sells with a key bound to the merchant instead of the operator key, to
# measure the party check of the hot path.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-15s}
CONNECTIONS=${2:-128}
LINES=${LINES:-2000}
ID_ORDER=${ID_ORDER:-time}
KEY_KIND=${KEY_KIND:-operator}
PORT=${PORT:-18089}
BIN=${BIN:-target/release/puhui}
KEY=load-test-key-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
DIR=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$DIR"' EXIT
[ -x "$BIN" ] || cargo build --release -p server
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
"$BIN" cob --data-dir "$DIR" --start 2026-01-05 >/dev/null
PUHUI_BOOTSTRAP_API_KEY=$KEY PUHUI_LOG=warn "$BIN" serve --data-dir "$DIR" --listen 127.0.0.1:$PORT &
SERVER=$!
for _ in $(seq 100); do curl -sf http://127.0.0.1:$PORT/healthz >/dev/null && break; sleep 0.1; done
python3 - "$PORT" "$KEY" "$LINES" "$DIR/purchases.lua" "$ID_ORDER" "$KEY_KIND" <<'PY'
import json, sys, uuid, urllib.request
from concurrent.futures import ThreadPoolExecutor
port, key, n, out, id_order, key_kind = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
def post(path, body):
    i = str(uuid.uuid4()); body["id"] = i
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", json.dumps(body).encode(),
        {"Content-Type": "application/json", "Authorization": f"Bearer {key}", "Idempotency-Key": i})
    with urllib.request.urlopen(req) as r:
        assert r.status in (200, 201), r.status
    return i
merchant = post("/v1/merchants", {"name": "load", "discount_rate": "0.008", "settlement_account": "bank:load"})
if key_kind == "merchant":
    bound = {"role": "merchant", "tenant": "default", "party_kind": "merchant", "party_id": merchant}
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/api-keys", json.dumps(bound).encode(),
        {"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(req) as r:
        sale_key = json.load(r)["key"]
else:
    sale_key = key
def line(_):
    b = post("/v1/borrowers", {"kind": "individual", "name": "load"})
    return post("/v1/credit-lines", {"borrower_id": b, "currency": "CNY", "limit_minor": 10**12})
with ThreadPoolExecutor(16) as ex:
    lines = list(ex.map(line, range(n)))
nonce = uuid.uuid4().hex[:8]
assert id_order in ("time", "random"), "ID_ORDER is time or random"
with open(out, "w") as f:
    f.write("local lines = {%s}\n" % ",".join('"%s"' % l for l in lines))
    f.write(f'local merchant = "{merchant}"\nlocal key = "{sale_key}"\nlocal nonce = "{nonce}"\nlocal id_order = "{id_order}"\n')
    f.write('''
local threads = 0
function setup(thread) thread:set("tid", threads); threads = threads + 1 end
local counter = 0
local bodies, headers = {}, {}
-- What does not change from one request to the next is built once, and there is no
-- response() callback (wrk counts non-2xx answers itself): the load tool shares the
-- machine's two cores with the server, so its own work is kept small.
function init(args)
  math.randomseed(tid * 7919 + 17)
  for i, l in ipairs(lines) do
    bodies[i] = '{"credit_line_id":"' .. l .. '","merchant_id":"' .. merchant ..
      '","amount_minor":12345,"currency":"CNY","capture":true}'
  end
  headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key}
end
function request()
  counter = counter + 1
  if id_order == "time" then
    headers["Idempotency-Key"] = string.format("%08x-%04x-7000-8000-%s%04x", counter, tid, nonce, tid)
  else
    headers["Idempotency-Key"] = string.format("%s-%04x-4000-8000-%012x", nonce, tid, counter)
  end
  return wrk.format("POST", "/v1/purchases", headers, bodies[math.random(#bodies)])
end
function done(summary, latency, requests)
  io.write(string.format("purchases/s %.0f  p50 %.2f ms  p99 %.2f ms  errors %d\\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.errors.status))
end
''')
PY
wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$DIR/purchases.lua" http://127.0.0.1:$PORT/
