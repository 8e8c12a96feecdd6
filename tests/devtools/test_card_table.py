"""`python -m devtools.cards.table`: the readout of what each client shows for each value of the sample cards."""

from __future__ import annotations

from devtools.cards.preview import HOSTILE, ORDINARY
from devtools.cards.table import rows, table


def test_the_hostile_sample_reads_as_typed_in_every_column() -> None:
    readout = table("hostile", HOSTILE)
    assert "[formatted]" not in readout and "[link" not in readout
    for label, typed, _ in rows("hostile", HOSTILE):
        if label in ("Name · Company", "Title", "Company", "Country", "Email", "Phone", "Offer"):
            assert readout.count(f"`` {typed} ``") == 3, label  # as typed, on phones, on desktop


def test_the_ordinary_sample_shows_the_campaign_once_and_the_email_as_its_own_mailto() -> None:
    readout = table("lead", ORDINARY)
    assert "[link mailto:ada@contoso.example]" in readout and "[formatted]" not in readout
    assert [label for label, _, _ in rows("lead", ORDINARY)][-1] == "Received (ours)"  # no raw JSON note
