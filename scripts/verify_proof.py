#!/usr/bin/env python3
"""Verifies a Puhui inclusion proof with SHA-256 and Ed25519 alone.

Usage: verify_proof.py PROOF.json [ENTRY.json]

PROOF.json is the answer of GET /v1/ledger/entries/{id}/proof; ENTRY.json, if given, is the
answer of GET /v1/ledger/entries/{id}, whose fields must be exactly those encoded in the
proof's leaf_data. Exits non-zero if anything does not check. The byte layout is described in
docs/ledger-proofs.md.
"""

import base64
import hashlib
import json
import struct
import sys
import uuid

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

TAG = b"puhui.entry.v1"
KINDS = {0: "plain", 1: "hold_post", 2: "reversal"}


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
    prev_hash = take(32)
    entry_id = uuid.UUID(bytes=take(16))
    (created_at_ms,) = struct.unpack(">q", take(8))
    currency = take(3).decode("ascii")
    kind = KINDS[take(1)[0]]
    reference = uuid.UUID(bytes=take(16))
    (memo_len,) = struct.unpack(">I", take(4))
    memo = take(memo_len).decode("utf-8")
    (count,) = struct.unpack(">I", take(4))
    postings = []
    for _ in range(count):
        account = uuid.UUID(bytes=take(16))
        direction = {b"D": "debit", b"C": "credit"}[take(1)]
        (amount,) = struct.unpack(">q", take(8))
        postings.append({"account_id": str(account), "direction": direction, "amount_minor": amount})
    if at != len(data):
        raise ValueError("bytes left over after the last posting")
    return {
        "seq": seq,
        "partition": partition,
        "prev_hash": prev_hash.hex(),
        "id": str(entry_id),
        "created_at_ms": created_at_ms,
        "currency": currency,
        "kind": kind,
        "reference": None if reference.int == 0 else str(reference),
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


def verify(proof: dict, entry=None) -> dict:
    data = base64.b64decode(proof["leaf_data"])
    fields = parse_leaf(data)
    if fields["id"] != proof["entry_id"]:
        raise ValueError("leaf_data is about another entry")
    if fields["partition"] != int.from_bytes(uuid.UUID(fields["id"]).bytes[14:16], "big") % 16:
        raise ValueError("the partition is not the one the entry id picks")
    if fields["seq"] != proof["leaf_index"]:
        raise ValueError("the leaf index is not the entry's sequence number")
    leaf = leaf_hash(data)
    if leaf.hex() != proof["leaf_hash"]:
        raise ValueError("SHA-256(0x00 || leaf_data) is not leaf_hash")
    path = [bytes.fromhex(h) for h in proof["audit_path"]]
    root = root_from_inclusion(proof["leaf_index"], proof["tree_size"], leaf, path)
    head = proof["tree_head"]
    if root.hex() != head["root_hash"] or head["tree_size"] != proof["tree_size"]:
        raise ValueError("the audit path does not lead to the signed root")
    signed = struct.pack(">BBQQ", 0, 1, head["timestamp_ms"], head["tree_size"]) + root
    if signed.hex() != head["signed_data"]:
        raise ValueError("signed_data is not the RFC 6962 TreeHeadSignature of this head")
    key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(head["public_key"]))
    key.verify(bytes.fromhex(head["signature"]), signed)  # raises InvalidSignature
    if entry is not None:
        names = ("id", "seq", "partition", "created_at_ms", "currency", "kind", "reference",
                 "memo", "postings", "hash", "prev_hash")
        for name in names:
            want = leaf.hex() if name == "hash" else fields[name]
            if entry.get(name) != want:
                raise ValueError(f"the entry's {name} is not what leaf_data encodes")
    return fields


def main() -> int:
    proof = json.load(open(sys.argv[1]))
    entry = json.load(open(sys.argv[2])) if len(sys.argv) > 2 else None
    fields = verify(proof, entry)
    print(f"verified entry {fields['id']} at leaf {fields['seq']} of {proof['tree_size']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
