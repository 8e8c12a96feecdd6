"""What the mail and the Teams card say about a returning customer (DYNAMICS_DUPLICATES): that this is one, what is
new, and where their open lead is. Pure; the callers make the text safe for their medium (messages.py escapes it
for HTML, teams_card.py passes it through card_text.plain)."""

from __future__ import annotations

from leads.core.payload import Lead
from leads.core.returning import filled_words
from leads.core.wording import action_words, one_line

TITLE = "Returning customer"
INTRO = (
    "A returning customer: they already have an open lead in Dynamics 365, and this marketplace event was added to "
    "it as a note. No new lead was created."
)
IN_DYNAMICS = "Dynamics 365: added to the customer's open lead as a note (no new lead)."
OPEN_LINK = "Open their lead in Dynamics 365"
CARD_IN_DYNAMICS = "Added to their open lead in Dynamics 365 as a note: no new lead."


def whats_new(lead: Lead) -> str:
    """``Contact me: the customer asked to be contacted — Contoso CRM Connector``: the event this time."""
    action = action_words(one_line(lead.action)) or "a new marketplace event"
    offer = one_line(lead.offer_title) or one_line(lead.lead_source.offer_id)
    return f"{action} — {offer}" if offer else action


def filled_sentence(filled: tuple[str, ...]) -> str:
    """``Filled in on their lead (it had none): business phone, company.``; "" when nothing was."""
    return f"Filled in on their lead (it had none): {filled_words(filled)}." if filled else ""
