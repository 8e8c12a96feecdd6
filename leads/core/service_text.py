"""What a service said back (an error's code and message), made fit for an error text, LastError and the logs. Pure.

Services quote what they were sent: Dataverse's "Syntax error … in 'emailaddress1 eq 'ada@…''", Graph's "The
requested user 'x' is invalid", an SMTP server's "550 <ada@…>: rejected". Errors raised by the adapters must not
carry a lead's email, phone or name (the host logs them with their traceback), so before a service's words go
into one they lose:
- the values the adapter sent, where it knows them (``without_values``: a Dataverse create's column values);
- anything shaped like an email address, and (``service_words``) like a phone number, and quoted text.
What the steps keep of an error (LastError, the alert) loses the lead's own contact values too
(``without_lead_values``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from leads.core.addresses import without_addresses
from leads.core.lead_row import MAX_ERROR_CHARS
from leads.core.payload import Lead

# A run of at least 7 digits, possibly with a leading + and spaces, dots, dashes or brackets between them.
_PHONE = re.compile(r"(?<![\w+])\+?\(?\d(?:[\d ().\-/]*\d)?")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|“[^”]*”|‘[^’]*’|<[^<>]*>")
_CODE = re.compile(r"[A-Za-z0-9_.:-]{1,80}")
REDACTED = "[redacted]"
MIN_VALUE_CHARS = 2  # shorter values ("1", "y") would blank the message out without protecting anyone


def without_values(text: str, values: Iterable[str]) -> str:
    """``text`` with every occurrence of each value (ignoring case) replaced by ``[redacted]`` (the marker the
    pipeline uses for the lead's own values too)."""
    wanted = sorted({value.strip() for value in values if len(value.strip()) >= MIN_VALUE_CHARS}, key=len, reverse=True)
    if not wanted:
        return text
    return re.sub("|".join(map(re.escape, wanted)), REDACTED, text, flags=re.IGNORECASE)


def without_phone_numbers(text: str) -> str:
    return _PHONE.sub(lambda found: REDACTED if sum(c.isdigit() for c in found.group()) >= 7 else found.group(), text)


def service_words(text: str, values: Iterable[str] = (), limit: int = 300) -> str:
    """A service's free text with sent values, addresses, phone numbers and quoted text taken out, on one line."""
    text = _QUOTED.sub(f"'{REDACTED}'", without_values(text, values))
    text = without_phone_numbers(without_addresses(text))
    return " ".join(text.split())[:limit]


def service_code(code: str) -> str:
    """A service's error code (``0x80040217``, ``ErrorAccessDenied``) if it looks like one, else ""."""
    return code if _CODE.fullmatch(code) else ""


def without_lead_values(text: str, lead: Lead) -> str:
    """An error to keep or mail, with the lead's own contact values and any address taken out."""
    for value in sorted(vars(lead.contact).values(), key=len, reverse=True):
        if len(value) >= 3:
            text = text.replace(value, REDACTED)
    return without_addresses(text)


def error_text(error: Exception) -> str:
    """``DataverseUnavailable: 503 …``: the error's class says which service, the message what happened."""
    return f"{error.__class__.__name__}: {error}"[:MAX_ERROR_CHARS]
