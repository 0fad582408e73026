#!/usr/bin/env bash
# HTTP load on POST /v1/decisions: starts a release server on a fresh temporary data
# directory (SQLite; set PUHUI_DATABASE_URL to an empty PostgreSQL database to load that
# instead), runs wrk against it, prints decisions/s and latency percentiles, checks that
# every answered decision was stored, and stops the server.
#
# Usage: scripts/load-decisions.sh [seconds] [connections]   (defaults: 10 s, 64)
# PUHUI_BIN=path/to/puhui runs that binary instead of building this tree.
# Needs wrk (apt-get install wrk). Applicants vary by request (age, income, amount, term,
# checking account), as in `puhui bench decision`, so every path of a decision is loaded.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-10}"
connections="${2:-64}"
command -v wrk >/dev/null || { echo "wrk not found (apt-get install wrk)" >&2; exit 1; }
bin="${PUHUI_BIN:-target/release/puhui}"
[ -n "${PUHUI_BIN:-}" ] || cargo build --release -q -p server
work=$(mktemp -d)
key="load-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then kill -INT "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

PUHUI_BOOTSTRAP_API_KEY="$key" PUHUI_LOG=warn \
    "$bin" serve --data-dir "$work/data" --listen 127.0.0.1:0 >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
for _ in $(seq 1 300); do
    grep -q '^listening on ' "$work/server.out" 2>/dev/null && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.err" >&2; exit 1; }
    sleep 0.1
done
url=$(sed -n 's/^listening on //p' "$work/server.out" | head -1)
[ -n "$url" ] || { echo "server did not start" >&2; cat "$work/server.err" >&2; exit 1; }

cat >"$work/decide.lua" <<LUA
local key = "$key"
local template = [[{"applicant_id":"load-%d-%d","as_of":"2026-11-26","application":{"age":%d,"monthly_income_minor":%d,"purpose":"car (new)","student":false,"requested_minor":%d,"term_months":%d,"enterprise":null,"attributes":{"status_of_existing_checking_account":"%s","credit_history":"critical account/ other credits existing (not at this bank)","savings_account_and_bonds":"unknown/ no savings account","property":"real estate","installment_rate_in_percentage_of_disposable_income":2,"present_employment_since":"... >= 7 years","other_installment_plans":"none"}},"bureau":{"open_loans":1,"inquiries_6m":2,"max_dpd_24m":0,"outstanding_minor":150000,"blacklisted":false},"behaviour":{"transactions":[{"date":"2026-11-20","amount_minor":12000},{"date":"2026-10-02","amount_minor":56000}],"repayments":[{"due_date":"2026-09-15","dpd":0}],"sales":[]}}]]
local terms = {6, 12, 24, 36, 48}
local status = {"... < 0 DM", "0 <= ... < 200 DM", "no checking account"}
local threads = 0
local n, me = 0, 0
function setup(thread)
    threads = threads + 1
    thread:set("me", threads)
end
function init(args)
    wrk.method = "POST"
    wrk.headers["Authorization"] = "Bearer " .. key
    wrk.headers["Content-Type"] = "application/json"
end
function request()
    n = n + 1
    local body = string.format(template, me, n, 19 + n % 50, 300000 + (n % 17) * 100000,
        100000 + (n % 23) * 50000, terms[n % 5 + 1], status[n % 3 + 1])
    return wrk.format(nil, "/v1/decisions", nil, body)
end
LUA

echo "+ wrk -t2 -c$connections -d${seconds}s POST $url/v1/decisions" >&2
wrk -t2 -c"$connections" -d"${seconds}s" --latency -s "$work/decide.lua" "$url" | tee "$work/wrk.out"

# Every request wrk counted as answered must have been a 201 that is now in the store.
if grep -q 'Non-2xx' "$work/wrk.out"; then echo "FAIL: some decisions were refused" >&2; exit 1; fi
rps=$(sed -n 's/^Requests\/sec: *//p' "$work/wrk.out")
p50=$(awk '$1 == "50%" {print $2}' "$work/wrk.out")
p99=$(awk '$1 == "99%" {print $2}' "$work/wrk.out")
kill -INT "$server_pid"; wait "$server_pid" || true; server_pid=""
if [ -z "${PUHUI_DATABASE_URL:-}" ] && command -v sqlite3 >/dev/null; then
    stored=$(sqlite3 "$work/data/puhui.db" 'SELECT COUNT(*) FROM decisions')
    answered=$(sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' "$work/wrk.out")
    echo "stored decisions: $stored (wrk counted $answered completed requests)"
    [ "$stored" -ge "$answered" ] || { echo "FAIL: fewer decisions stored than answered" >&2; exit 1; }
fi
echo "decisions/s: $rps  p50: $p50  p99: $p99  ($connections connections, ${seconds} s)"
