"""A row without its personal data: what stays, what goes, and the hashed keys that still recognise it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from leads.core import lead_row, personal
from leads.core.matching import EMAIL_HASH, MATCH_KEY, email_hash, stored_match_key
from leads.core.payload import parse_lead
from tests.leadsamples import marketplace_lead

RECEIVED = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
LATER = datetime(2027, 3, 1, 3, 17, tzinfo=UTC)
# Every value of the sample lead a person typed or that names them; none may survive a scrub.
PERSONAL_VALUES = ("Ada", "Lovelace", "ada@contoso.example", "+44 20 7946 0000", "Contoso Ltd", "CTO", "pricing")
# The columns a new row has that hold personal data (or can: RawPayload, the campaign parameters from Description).
PERSONAL_COLUMNS = {"CustomerInfo", "Description", "RawPayload", "CampaignMktcmpid", "CampaignUtmSource"}


def done_row(**overrides: object) -> dict[str, object]:
    description = "Please contact me about pricing mktcmpid=spring utm_source=news"
    entity = lead_row.new_entity(parse_lead(marketplace_lead(Description=description)), RECEIVED)
    entity |= {"Status": "done", "DynamicsLeadId": "5d0c2f0e-0000-4000-8000-000000000001", "DynamicsAt": RECEIVED,
               "NotifiedAt": RECEIVED, "MailClaim": "", "_etag": 'W/"1"'}  # fmt: skip
    return entity | overrides


def test_every_column_of_a_new_row_is_either_kept_or_personal() -> None:
    # A column added later is dropped by a scrub unless it is listed in KEPT_COLUMNS: this makes its author choose.
    columns = set(done_row())
    unclassified = sorted(columns - set(personal.KEPT_COLUMNS) - PERSONAL_COLUMNS - {"MailClaim", "_etag"})
    assert not unclassified, f"add these to personal.KEPT_COLUMNS or to PERSONAL_COLUMNS here: {unclassified}"


def test_a_scrubbed_row_keeps_the_facts_and_the_hashed_keys_only() -> None:
    row = done_row()
    kept = personal.scrubbed(row, LATER)
    assert not set(kept) & PERSONAL_COLUMNS
    assert not any(value in str(kept) for value in PERSONAL_VALUES)
    for column in ("RowKey", "Status", "ReceivedAt", "UpdatedAt", "OfferTitle", "Action", "DynamicsLeadId",
                   "NotifiedAt", MATCH_KEY, EMAIL_HASH):  # fmt: skip
        assert kept[column] == row[column], column
    assert kept[lead_row.SCRUBBED_AT] == LATER and personal.is_scrubbed(kept)
    assert "MailClaim" not in kept and "_etag" not in kept
    assert personal.scrubbed(kept, datetime(2030, 1, 1, tzinfo=UTC)) == kept  # idempotent: the first time stays


def test_rows_stored_before_the_hashed_keys_existed_get_them_when_scrubbed() -> None:
    row = done_row()
    match_key, address_hash = row.pop(MATCH_KEY), row.pop(EMAIL_HASH)
    kept = personal.scrubbed(row, LATER)
    assert (kept[MATCH_KEY], kept[EMAIL_HASH]) == (match_key, address_hash)
    assert stored_match_key(kept) == match_key  # imports still match the scrubbed row


def test_the_address_is_found_in_the_raw_payload_when_customer_info_was_cut() -> None:
    row = done_row(CustomerInfo='{"FirstName": "Ada", "Email": "ada@contoso.exa')  # cut mid-value: not JSON
    del row[EMAIL_HASH]
    assert personal.stored_email_hash(row) == email_hash("ada@contoso.example")


def test_the_address_hash_ignores_case_and_spaces_and_is_empty_without_an_address() -> None:
    assert email_hash(" Ada@Contoso.Example ") == email_hash("ada@contoso.example") != email_hash("ada@contoso.org")
    assert email_hash("") == email_hash("  ") == ""
    assert "ada" not in email_hash("ada@contoso.example")


@pytest.mark.parametrize("status", ["received", "held"])
def test_erasing_an_unprocessed_lead_stops_it(status: str) -> None:
    row = personal.erased(done_row(Status=status, DynamicsLeadId=""), LATER)
    assert row["Status"] == "failed" and row["LastError"].startswith(personal.ERASED_BEFORE_PROCESSING)
    assert f"(was {status})" in row["LastError"]
    assert (row[lead_row.ERASED_AT], row["UpdatedAt"]) == (LATER, LATER)
    assert lead_row.replayed(row, LATER) is None  # replay --failed leaves it alone: there is nothing to send


def test_erasing_a_done_lead_keeps_its_status_and_times() -> None:
    row = done_row()
    erased = personal.erased(row, LATER)
    assert (erased["Status"], erased["UpdatedAt"], erased[lead_row.ERASED_AT]) == ("done", row["UpdatedAt"], LATER)
    assert not any(value in str(erased) for value in PERSONAL_VALUES)


def test_a_scrubbed_failed_lead_is_not_replayed() -> None:
    assert lead_row.replayed(done_row(Status="failed"), LATER) is not None
    assert lead_row.replayed(personal.scrubbed(done_row(Status="failed"), LATER), LATER) is None


def test_the_tombstone_holds_the_hash_and_the_time_only() -> None:
    address_hash = email_hash("ada@contoso.example")
    assert personal.tombstone(address_hash, LATER) == {
        "PartitionKey": personal.TOMBSTONES, "RowKey": address_hash, lead_row.ERASED_AT: LATER,
    }  # fmt: skip
    # Outside the lead partitions, as the watermarks are: `status` and imports never take it for a lead.
    assert not "00" <= personal.TOMBSTONES <= "ff"


def test_anonymised_dynamics_lead_has_no_contact_and_says_why() -> None:
    body = personal.anonymised("abc123", LATER)
    assert all(body[column] is None for column in personal.DYNAMICS_PERSONAL_COLUMNS)
    assert body["description"] == (
        "Personal data erased on request on 2027-03-01 (python -m leads forget). Marketplace lead id: abc123"
    )
    assert "subject" not in body


def test_new_rows_carry_the_address_hash() -> None:
    entity = lead_row.new_entity(parse_lead(marketplace_lead()), RECEIVED)
    assert entity[EMAIL_HASH] == email_hash("ada@contoso.example")
    assert json.loads(entity["CustomerInfo"])["Email"] == "ada@contoso.example"
    no_contact = lead_row.new_entity(parse_lead(marketplace_lead(UserDetails={})), RECEIVED)
    assert no_contact[EMAIL_HASH] == ""


def test_a_returning_customers_marks_survive_a_scrub() -> None:
    row = done_row(Returning=True, ReturningFilled="telephone1,jobtitle")
    assert set(personal.scrubbed(row, LATER)) >= {"Returning", "ReturningFilled", "DynamicsLeadId"}
