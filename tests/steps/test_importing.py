"""The import step with the in-memory store: already here, new, unusable, --since, --apply, --no-notify."""

from __future__ import annotations

from datetime import UTC, datetime

from leads.core import lead_row
from leads.core.payload import parse_lead
from leads.settings import load_dynamics
from leads.steps import intake
from leads.steps.importing import Importer, ImportOptions, SourceRow
from leads.steps.processing import LeadProcessor
from tests.core.test_export_rows import ADA
from tests.doubles import MemoryLeadStore, MemoryQueue, RecordingCrm, RecordingMailer
from tests.leadsamples import body, marketplace_lead

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
GRACE = ADA | {"first_name": "Grace", "last_name": "Hopper", "email": "grace@fabrikam.example", "description": ""}


def rows(*fields: dict[str, str]) -> list[SourceRow]:
    return [SourceRow(f"line {number}", row) for number, row in enumerate(fields, start=2)]


def importer(store: MemoryLeadStore, queue: MemoryQueue, **options: object) -> Importer:
    return Importer(store, queue, ImportOptions(origin=lead_row.ORIGIN_IMPORT, **options), clock=lambda: NOW)  # type: ignore[arg-type]


def test_a_dry_run_reports_and_writes_nothing() -> None:
    store, queue = MemoryLeadStore(), MemoryQueue()
    report = importer(store, queue).run([*rows(ADA, GRACE), SourceRow("line 4", {}, "not valid CSV (x)")])
    assert (report.rows, len(report.new), report.already_here, report.stored) == (3, 2, 0, 0)
    assert [(finding.where, finding.text) for finding in report.unusable] == [("line 4", "not valid CSV (x)")]
    assert store.rows == {} and queue.messages == []


def test_apply_stores_and_enqueues_the_new_leads_once() -> None:
    store, queue = MemoryLeadStore(), MemoryQueue()
    first = importer(store, queue, apply=True).run(rows(ADA, GRACE))
    assert first.stored == 2 and len(queue.messages) == 2
    again = importer(store, queue, apply=True).run(rows(ADA, GRACE))
    assert (again.stored, again.same_lead, len(again.new)) == (0, 2, 0)
    assert len(store.rows) == 2 and len(queue.messages) == 2
    stored = store.get(first.new[0].text)
    assert stored is not None
    assert (stored["Origin"], stored["ReceivedAt"], stored["ImportedAt"]) == (
        "import",
        datetime(2026, 11, 21, 9, 30, tzinfo=UTC),
        NOW,
    )


def test_a_lead_that_arrived_over_https_is_already_here() -> None:
    store, queue = MemoryLeadStore(), MemoryQueue()
    receipt = intake.receive(body(marketplace_lead()), store, queue, datetime(2026, 11, 21, 9, 31, tzinfo=UTC))
    report = importer(store, queue, apply=True).run(rows(ADA))
    assert (report.same_lead, report.stored) == (1, 0)
    assert list(store.rows) == [lead_row.keys_for(receipt.lead_id)]


def test_the_looser_match_finds_a_lead_whose_free_text_differs() -> None:
    store, queue = MemoryLeadStore(), MemoryQueue()
    # Received just before midnight UTC; the export says the next day, in words, with another note.
    intake.receive(body(marketplace_lead()), store, queue, datetime(2026, 11, 20, 23, 59, tzinfo=UTC))
    edited = ADA | {"email": "ADA@contoso.example", "description": "(edited in Partner Center)", "action": "Get it now"}
    report = importer(store, queue, apply=True).run(rows(edited))
    assert (report.similar, report.stored) == (1, 0)


def test_rows_stored_before_the_match_key_existed_are_matched_too() -> None:
    store, queue = MemoryLeadStore(), MemoryQueue()
    entity = lead_row.new_entity(parse_lead(marketplace_lead(Description="older")), datetime(2026, 11, 21, tzinfo=UTC))
    del entity["MatchKey"], entity["Origin"]
    store.insert(entity)
    report = importer(store, queue).run(rows(ADA))
    assert report.similar == 1


def test_a_repeat_within_the_file_is_one_lead() -> None:
    store, queue = MemoryLeadStore(), MemoryQueue()
    report = importer(store, queue, apply=True).run(rows(ADA, ADA | {"description": "again"}, ADA))
    assert (report.stored, report.similar, report.same_lead) == (1, 1, 1)


def test_since_leaves_older_leads_out() -> None:
    store, queue = MemoryLeadStore(), MemoryQueue()
    newer = GRACE | {"created": "2026-11-25T10:00:00Z"}
    report = importer(store, queue, since=datetime(2026, 11, 22, tzinfo=UTC)).run(rows(ADA, newer))
    assert (report.before_since, len(report.new)) == (1, 1)


def test_unusable_rows_keep_their_contact_for_show_contact_only() -> None:
    store, queue = MemoryLeadStore(), MemoryQueue()
    report = importer(store, queue).run(rows(ADA | {"created": "soon"}))
    [finding] = report.unusable
    assert finding.text == "creation date not understood"
    assert "ada@contoso.example" not in finding.text and finding.contact == "Ada Lovelace <ada@contoso.example>"


def test_no_notify_leads_go_to_dynamics_without_the_contacts_mail() -> None:
    store, queue = MemoryLeadStore(), MemoryQueue()
    report = importer(store, queue, apply=True, notify=False).run(rows(ADA))
    crm, mailer = RecordingCrm(), RecordingMailer()
    dynamics = load_dynamics({"DYNAMICS_URL": "https://contoso.crm.dynamics.com", "AZURE_TENANT_ID": "t",
                              "AZURE_CLIENT_ID": "c", "AZURE_CLIENT_SECRET": "s"})  # fmt: skip
    processor = LeadProcessor(store, lambda: dynamics, lambda: crm, lambda: mailer)
    processor.process_message(queue.messages[0])
    lead_id = report.new[0].text
    assert store.get(lead_id)["Status"] == "done"  # type: ignore[index]
    assert len(crm.leads) == 1 and mailer.sent == []
    # When it fails, the contacts still hear of the failure (the alert), not of the lead.
    processor.give_up(lead_id, "test")
    assert mailer.sent == []  # done stays done
    other = importer(store, queue, apply=True, notify=False).run(rows(GRACE)).new[0].text
    processor.give_up(other, "gave up: test")
    assert [mail.subject for mail in mailer.sent] == [mailer.sent[0].subject]
    assert "could not be delivered" in mailer.sent[0].subject
