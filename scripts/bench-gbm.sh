#!/usr/bin/env bash
# Trains Puhui's gbm, LightGBM (default and early-stopped) and XGBoost (default and
# early-stopped) on the same CSVs under the split rule (data row i is test when i % 5 == 0)
# and prints test AUC, rounds, wall time, CPU time and peak RSS (/usr/bin/time -v) of each whole process
# (CSV load included), RUNS times, interleaved so background load hits every contender alike.
#
# Usage: scripts/bench-gbm.sh [RUNS] [DATASET...]   DATASET: german bloan synthetic (default all)
# Needs: scripts/fetch-data.sh, scripts/make-synthetic.py (for `synthetic`),
#        pip install lightgbm xgboost numpy pandas scikit-learn, GNU time (/usr/bin/time).
# PYTHON: the interpreter with those packages (default .cache/venv/bin/python when it
# exists, else python3); for instance
#   python3 -m venv .cache/venv && .cache/venv/bin/pip install lightgbm xgboost numpy pandas scikit-learn
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
runs="${1:-3}"
shift || true
sets=("$@")
[ ${#sets[@]} -gt 0 ] || sets=(german bloan synthetic)
# PUHUI_MODEL_BIN: a prebuilt `model` example binary (default: build this checkout's).
bin="${PUHUI_MODEL_BIN:-}"
if [ -z "$bin" ]; then
  cargo build --release -q -p riskops --example model
  bin="$root/target/release/examples/model"
fi
python="${PYTHON:-}"
if [ -z "$python" ]; then
  if [ -x .cache/venv/bin/python ]; then python=.cache/venv/bin/python; else python=python3; fi
fi
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

# name file target bad-value valid-every (Puhui's default validation slice for that size)
spec() {
  case "$1" in
    german) echo "testdata/external/germancredit.csv creditability bad 5" ;;
    bloan) echo "testdata/external/bloan.csv is_bad 1 5" ;;
    synthetic)
      [ -f testdata/synthetic/credit-1m.csv ] || "$python" scripts/make-synthetic.py >&2
      echo "testdata/synthetic/credit-1m.csv is_bad 1 10" ;;
    *) echo "unknown dataset $1" >&2; exit 2 ;;
  esac
}

# measure NAME LABEL CMD...: appends "name|label|auc|wall_s|rss_mib|cpu_s|rounds" to the results.
measure() {
  local name="$1" label="$2"
  shift 2
  /usr/bin/time -v -o "$out/time" "$@" >"$out/stdout" 2>"$out/stderr" || {
    echo "$name $label failed:" >&2
    cat "$out/stderr" >&2
    return 1
  }
  local auc rounds wall rss cpu
  read -r auc rounds < <(python3 -c 'import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); print("%.4f" % (d["test"]["auc"] if "test" in d else d["auc"]), d.get("rounds"))' <"$out/stdout")
  wall=$(awk -F': ' '/Elapsed/ {n=split($2,t,":"); s=0; for(i=1;i<=n;i++) s=s*60+t[i]; print s}' "$out/time")
  rss=$(awk -F': ' '/Maximum resident/ {printf "%.0f", $2/1024}' "$out/time")
  cpu=$(awk -F': ' '/User time|System time/ {s+=$2} END {printf "%.1f", s}' "$out/time")
  echo "$name|$label|$auc|$wall|$rss|$cpu|$rounds" >>"$out/results"
  printf '%-10s %-24s AUC %s  %4s rounds  %6.1f s  %6.1f CPU-s  %5s MiB\n' "$name" "$label" "$auc" "$rounds" "$wall" "$cpu" "$rss" >&2
}

for name in "${sets[@]}"; do
  read -r file target bad every <<<"$(spec "$name")"
  lib=("$python" scripts/bench-gbm-lib.py --data "$file" --target "$target" --bad-value "$bad" --valid-every "$every")
  for ((r = 1; r <= runs; r++)); do
    measure "$name" "puhui gbm (defaults)" "$bin" train --data "$file" --target "$target" \
      --bad-value "$bad" --kind gbm --holdout --json --out "$out/model.json"
    measure "$name" "lightgbm default" "${lib[@]}" --lib lightgbm --mode default
    measure "$name" "lightgbm early-stopped" "${lib[@]}" --lib lightgbm --mode early
    measure "$name" "xgboost default" "${lib[@]}" --lib xgboost --mode default
    measure "$name" "xgboost early-stopped" "${lib[@]}" --lib xgboost --mode early
  done
  size=$(stat -c %s "$file")
  echo "$name|csv|$size" >>"$out/results"
done

# One table: median over runs, with min-max spreads for time and memory.
python3 - "$out/results" <<'PY'
import sys, statistics as st
rows, sizes = {}, {}
for line in open(sys.argv[1]):
    f = line.rstrip("\n").split("|")
    if f[1] == "csv":
        sizes[f[0]] = f"{int(f[2]) / 2**20:.2f} MiB"
        continue
    rows.setdefault((f[0], f[1]), []).append((float(f[2]), float(f[3]), float(f[4]), float(f[5]), f[6]))
def spread(v, fmt):
    return f"{fmt(st.median(v))} ({fmt(min(v))}-{fmt(max(v))})"
one = lambda x: f"{x:.1f}"
print("| data (CSV size) | trainer | test AUC | rounds | wall s, median (min-max) | CPU s, median (min-max) | peak RSS MiB, median (min-max) | runs |")
print("|---|---|---|---|---|---|---|---|")
for (name, label), v in rows.items():
    auc, wall, rss, cpu, rounds = zip(*v)
    print(f"| {name} ({sizes.get(name, '?')}) | {label} | {st.median(auc):.4f} | {'/'.join(sorted(set(rounds)))} | "
          f"{spread(wall, one)} | {spread(cpu, one)} | {spread(rss, lambda x: f'{x:.0f}')} | {len(v)} |")
PY
