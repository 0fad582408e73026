#!/usr/bin/env python3
"""Verifies a Puhui investor report's collections without trusting the operator.

Usage: verify_investor_report.py REPORT.json [--public-key HEX] [REPORT.json ...]

REPORT.json is the answer of GET /v1/abs/deals/{id}/periods/{n}/report. For each report:

1. the tree head's Ed25519 signature (RFC 8032) over the RFC 6962 TreeHeadSignature bytes,
   rebuilt here from its timestamp, size and root, under the operator's public key
   (--public-key, obtained out of band; without it the key in the report is used and a
   warning printed);
2. every collection entry: its leaf_data decoded byte by byte, its leaf hash recomputed
   (SHA-256 of 0x00 || leaf_data), its id, sequence and partition checked, and its
   inclusion proof (RFC 9162) recomputed up to the signed root;
3. that each entry is the deal's (memo `abs deal <id>: ...`), in the report's currency, that
   the collection account id is the one the deal id derives, that the period's collection
   entry has the id the deal and period derive, and that the entries' debits to the
   collection account add up to `collections.total_minor`, which must itself be the interest,
   principal and recoveries collected plus the repurchases in the report's pool figures.

Standard library only (Ed25519 verification is implemented below, after RFC 8032 section 6).
Exits non-zero, naming what failed, if anything does not check. The layout of leaf_data is in
docs/ledger-proofs.md; the report in docs/securitization.md.
"""

import base64
import hashlib
import json
import struct
import sys
import uuid

TAG = b"puhui.entry.v1"
KINDS = {0: "plain", 1: "hold_post", 2: "reversal"}
# The namespace of every id a deal derives (crates/engine/src/abs/docs.rs, `NS`).
DEAL_NS = uuid.UUID("3b8e61c4-0d27-4a9f-b512-e7c095a31d6e")

# --- Ed25519 verification (RFC 8032 section 6, the reference implementation) -------------

P = 2**255 - 19
Q = 2**252 + 27742317777372353535851937790883648493


def _inv(x: int) -> int:
    return pow(x, P - 2, P)


D = -121665 * _inv(121666) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def _add(a, b):
    x = (a[1] - a[0]) * (b[1] - b[0]) % P
    y = (a[1] + a[0]) * (b[1] + b[0]) % P
    c = 2 * a[3] * b[3] * D % P
    dd = 2 * a[2] * b[2] % P
    e, f, g, h = y - x, dd - c, dd + c, y + x
    return (e * f, g * h, f * g, e * h)


def _mul(s: int, pt):
    acc = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            acc = _add(acc, pt)
        pt = _add(pt, pt)
        s >>= 1
    return acc


def _equal(a, b) -> bool:
    return (a[0] * b[2] - b[0] * a[2]) % P == 0 and (a[1] * b[2] - b[1] * a[2]) % P == 0


def _recover_x(y: int, sign: int):
    if y >= P:
        return None
    x2 = (y * y - 1) * _inv(D * y * y + 1)
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P != 0:
        return None
    if (x & 1) != sign:
        x = P - x
    return x


def _decompress(s: bytes):
    if len(s) != 32:
        return None
    y = int.from_bytes(s, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, x * y % P)


_GY = 4 * _inv(5) % P
_GX = _recover_x(_GY, 0)
G = (_GX, _GY, 1, _GX * _GY % P)


def ed25519_verify(public: bytes, message: bytes, signature: bytes) -> bool:
    if len(public) != 32 or len(signature) != 64:
        return False
    a = _decompress(public)
    r = _decompress(signature[:32])
    if a is None or r is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= Q:
        return False
    h = int.from_bytes(hashlib.sha512(signature[:32] + public + message).digest(), "little") % Q
    return _equal(_mul(s, G), _add(r, _mul(h, a)))


def _self_test() -> None:
    """RFC 8032 section 7.1, TEST 2: the verifier must accept it and refuse a changed byte."""
    public = bytes.fromhex("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c")
    sig = bytes.fromhex(
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
        "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
    )
    if not ed25519_verify(public, b"\x72", sig) or ed25519_verify(public, b"\x73", sig):
        raise SystemExit("Ed25519 self-test failed: this Python cannot be trusted to verify")


# --- Merkle proofs (RFC 9162) and leaf_data (docs/ledger-proofs.md) ------------------------


def parse_leaf(data: bytes) -> dict:
    """Decodes leaf_data; raises ValueError if it is not exactly one well-formed entry."""
    if not data.startswith(TAG):
        raise ValueError("leaf_data does not start with the puhui.entry.v1 tag")
    at = len(TAG)

    def take(n: int) -> bytes:
        nonlocal at
        if at + n > len(data):
            raise ValueError("leaf_data is truncated")
        chunk = data[at : at + n]
        at += n
        return chunk

    seq, partition = struct.unpack(">QH", take(10))
    take(32)  # prev_hash: committed to by the leaf hash, not needed here
    entry_id = uuid.UUID(bytes=take(16))
    take(8)  # created_at_ms
    currency = take(3).decode("ascii")
    kind = KINDS[take(1)[0]]
    take(16)  # reference
    (memo_len,) = struct.unpack(">I", take(4))
    memo = take(memo_len).decode("utf-8")
    (count,) = struct.unpack(">I", take(4))
    postings = []
    for _ in range(count):
        account = uuid.UUID(bytes=take(16))
        direction = {b"D": "debit", b"C": "credit"}[take(1)]
        (amount,) = struct.unpack(">q", take(8))
        if amount <= 0:
            raise ValueError("a posting amount is not positive")
        postings.append((str(account), direction, amount))
    if at != len(data):
        raise ValueError("bytes left over after the last posting")
    debits = sum(a for _, d, a in postings if d == "debit")
    credits = sum(a for _, d, a in postings if d == "credit")
    if debits != credits:
        raise ValueError("the entry does not balance")
    return {
        "seq": seq,
        "partition": partition,
        "id": str(entry_id),
        "currency": currency,
        "kind": kind,
        "memo": memo,
        "postings": postings,
    }


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_inclusion(index: int, size: int, leaf: bytes, path: list) -> bytes:
    """RFC 9162 section 2.1.3.2: the root that `path` leads to from leaf `index`."""
    if index >= size:
        raise ValueError("leaf index outside the tree")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise ValueError("audit path too long")
        if fn & 1 == 1 or fn == sn:
            r = node_hash(p, r)
            while fn & 1 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ValueError("audit path too short")
    return r


# --- The report ---------------------------------------------------------------------------


def check_head(head: dict, public_key_hex) -> bytes:
    root = bytes.fromhex(head["root_hash"])
    signed = struct.pack(">BBQQ", 0, 1, head["timestamp_ms"], head["tree_size"]) + root
    key = public_key_hex or head["public_key"]
    if public_key_hex and public_key_hex.lower() != head["public_key"].lower():
        raise ValueError("the tree head names another public key than the operator's")
    if not ed25519_verify(bytes.fromhex(key), signed, bytes.fromhex(head["signature"])):
        raise ValueError("the tree head's Ed25519 signature does not verify")
    return root


def verify_report(report: dict, public_key_hex=None) -> dict:
    head = report["tree_head"]
    root = check_head(head, public_key_hex)
    deal_id = report["deal_id"]
    coll = report["collections"]
    account = str(uuid.uuid5(DEAL_NS, f"account:{deal_id}:spv:account:{coll['collection_account']}"))
    if coll["collection_account_id"] != account:
        raise ValueError("the collection account id is not the one the deal id derives")
    remittance = str(uuid.uuid5(DEAL_NS, f"collections:{deal_id}:{report['period']}"))
    collected = 0
    seen = set()
    for proof in coll["entries"]:
        data = base64.b64decode(proof["leaf_data"], validate=True)
        fields = parse_leaf(data)
        name = fields["id"]
        if name in seen:
            raise ValueError(f"entry {name} is counted twice")
        seen.add(name)
        if name != proof["entry_id"]:
            raise ValueError(f"leaf_data of {proof['entry_id']} is about another entry")
        if fields["partition"] != int.from_bytes(uuid.UUID(name).bytes[14:16], "big") % 16:
            raise ValueError(f"entry {name}: the partition is not the one its id picks")
        if fields["seq"] != proof["leaf_index"]:
            raise ValueError(f"entry {name}: the leaf index is not its sequence number")
        leaf = leaf_hash(data)
        if leaf.hex() != proof["leaf_hash"]:
            raise ValueError(f"entry {name}: SHA-256(0x00 || leaf_data) is not leaf_hash")
        if proof["tree_size"] != head["tree_size"] or proof["root_hash"] != head["root_hash"]:
            raise ValueError(f"entry {name}: its proof is against another tree head")
        path = [bytes.fromhex(h) for h in proof["audit_path"]]
        if root_from_inclusion(fields["seq"], head["tree_size"], leaf, path) != root:
            raise ValueError(f"entry {name}: the audit path does not lead to the signed root")
        if fields["currency"] != report["currency"]:
            raise ValueError(f"entry {name} is in {fields['currency']}, not the deal's currency")
        if not fields["memo"].startswith(f"abs deal {deal_id}:"):
            raise ValueError(f"entry {name} is not about deal {deal_id}")
        for acc, direction, amount in fields["postings"]:
            if acc == account:
                collected += amount if direction == "debit" else -amount
    pool = report["pool"]
    figures = (
        pool["interest_collected_minor"]
        + pool["principal_collected_minor"]
        + pool["recovery_minor"]
        + pool["repurchased_minor"]
    )
    if figures != coll["total_minor"]:
        raise ValueError(
            f"the pool's collections add up to {figures}, not the total {coll['total_minor']}"
        )
    if collected != coll["total_minor"]:
        raise ValueError(
            f"the proven entries bring {collected} into the collection account; "
            f"the report says {coll['total_minor']}"
        )
    if collected > 0 and remittance not in seen and pool["repurchased_minor"] != collected:
        raise ValueError("the period's remittance entry is missing")
    return {"entries": len(seen), "collected_minor": collected, "tree_size": head["tree_size"]}


def main(argv) -> int:
    _self_test()
    key = None
    files = []
    it = iter(argv[1:])
    for a in it:
        if a == "--public-key":
            key = next(it, None)
            if not key:
                print("--public-key needs the operator's Ed25519 key in hex", file=sys.stderr)
                return 2
        else:
            files.append(a)
    if not files:
        print(__doc__, file=sys.stderr)
        return 2
    if key is None:
        print("warning: no --public-key; trusting the key the report names", file=sys.stderr)
    failed = 0
    for path in files:
        with open(path) as f:
            report = json.load(f)
        try:
            r = verify_report(report, key)
        except (ValueError, KeyError, TypeError, struct.error) as e:
            print(f"{path}: FAILED: {e}", file=sys.stderr)
            failed += 1
            continue
        print(
            f"{path}: verified period {report['period']} of deal {report['deal_id']}: "
            f"{r['entries']} collection entries, {r['collected_minor']} collected, "
            f"tree size {r['tree_size']}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
