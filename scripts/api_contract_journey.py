"""A journey through a client generated from /openapi.json: two accounts, an entry posted
under an Idempotency-Key and retried, the entry read back, and its inclusion proof verified
offline (verify_proof.py). Usage: api_contract_journey.py BASE_URL API_KEY"""

import sys
import uuid
from http import HTTPStatus

from puhui_client import AuthenticatedClient
from puhui_client.api.ledger import create_account, get_entry, get_entry_proof, post_entry
from puhui_client.models import (
    CreateAccountRequest,
    CreateAccountRequestCurrency,
    EntryRequestWire,
    EntryRequestWireCurrency,
    PostingWire,
    PostingWireDirection,
    Problem,
)

import verify_proof


def expect(response, status):
    assert response.status_code == status, (response.status_code, response.content)
    assert not isinstance(response.parsed, Problem), response.parsed
    return response.parsed


def main() -> int:
    base, key = sys.argv[1], sys.argv[2]
    with AuthenticatedClient(base_url=base, token=key, raise_on_unexpected_status=True) as client:
        journey(client)
    print("1 passed, 0 failed")
    return 0


def journey(client) -> None:
    # The generated client types a uuid header as UUID but sends it as given: pass text.
    accounts = []
    for owner in ("journey-borrower", "journey-bank"):
        body = CreateAccountRequest(
            owner=owner, purpose="cash", currency=CreateAccountRequestCurrency.CNY
        )
        accounts.append(expect(create_account.sync_detailed(client=client, body=body), HTTPStatus.CREATED))
    entry_id = uuid.uuid4()
    body = EntryRequestWire(
        id=entry_id,
        currency=EntryRequestWireCurrency.CNY,
        memo="journey",
        postings=[
            PostingWire(account_id=accounts[0].id, direction=PostingWireDirection.DEBIT, amount_minor=12_345),
            PostingWire(account_id=accounts[1].id, direction=PostingWireDirection.CREDIT, amount_minor=12_345),
        ],
    )
    posted = expect(
        post_entry.sync_detailed(client=client, body=body, idempotency_key=str(entry_id)), HTTPStatus.CREATED
    )
    replayed = expect(post_entry.sync_detailed(client=client, body=body, idempotency_key=str(entry_id)), HTTPStatus.OK)
    assert replayed.to_dict() == posted.to_dict(), "a retry answers the original"
    # A key that is not the entry's id is refused with a problem naming the mismatch.
    refused = post_entry.sync_detailed(client=client, body=body, idempotency_key=str(uuid.uuid4()))
    assert refused.status_code == HTTPStatus.UNPROCESSABLE_ENTITY, refused.status_code
    assert isinstance(refused.parsed, Problem) and refused.parsed.code == "idempotency_key_mismatch"

    entry = expect(get_entry.sync_detailed(entry_id, client=client), HTTPStatus.OK)
    proof = expect(get_entry_proof.sync_detailed(entry_id, client=client), HTTPStatus.OK)
    fields = verify_proof.verify(proof.to_dict(), entry.to_dict())
    assert fields["postings"][0]["amount_minor"] == 12_345 and fields["memo"] == "journey"
    # A proof whose bytes were changed does not verify.
    forged = proof.to_dict()
    forged["leaf_data"] = forged["leaf_data"][:-4] + ("AAAA" if forged["leaf_data"][-4:] != "AAAA" else "AAAB")
    try:
        verify_proof.verify(forged, None)
    except (ValueError, KeyError):
        pass
    else:
        raise AssertionError("a changed leaf_data verified")
    print(f"journey: entry {entry_id} posted, replayed, read and its proof verified")


if __name__ == "__main__":
    sys.exit(main())
