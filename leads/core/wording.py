"""Lead values made safe to show, and the words for them: one line or several, mail headers, UTC times, and what
the marketplace's action codes mean. Pure. Every value comes from whoever filled in the marketplace form."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime

MAX_HEADER_CHARS = 250
_WHITESPACE = re.compile(r"\s+")
# What the marketplace's action codes mean (shared/REFERENCE.md §1.2); keys are lower-case.
ACTIONS = {
    "ins": "Install: the customer acquired the offer in Azure Marketplace or AppSource",
    "plt": "Partner-led trial: the customer pressed Contact me",
    "dnc": "Do not contact: a heads-up for a cross-listed offer; the customer did not ask to be contacted",
    "create": "Create: the customer purchased the offer into their account in the Azure portal",
    "starttestdrive": "Test drive: the customer started a test drive",
}


# The same actions as a salesperson says them (the buttons the customer pressed), for the Teams card.
ACTION_WORDS = {
    "ins": "Install: the customer acquired the offer",
    "plt": "Contact me: the customer asked to be contacted",
    "dnc": "Do not contact: a heads-up only, the customer did not ask to be contacted",
    "create": "Create: the customer purchased the offer in the Azure portal",
    "starttestdrive": "Test drive: the customer started a test drive",
}


def action_words(action: str) -> str:
    """``PLT`` → ``Contact me: the customer asked to be contacted``; unknown codes are shown as they came."""
    return ACTION_WORDS.get(action.lower(), action)


def explain_action(action: str) -> str:
    """``INS`` → ``INS — Install: …``; unknown codes are shown as they came."""
    meaning = ACTIONS.get(action.lower())
    return f"{action} — {meaning}" if meaning else action


def one_line(value: str) -> str:
    """A value for one line: line breaks, tabs and other control characters become single spaces."""
    return _WHITESPACE.sub(" ", "".join(_visible(char, keep_newlines=False) for char in value)).strip()


def multi_line(value: str) -> str:
    """A value that may span lines (the description): line breaks kept, other control characters dropped."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    lines = ("".join(_visible(char, keep_newlines=True) for char in line) for line in value.split("\n"))
    return "\n".join(re.sub(r"[ \t]+", " ", line).strip() for line in lines).strip()


def header_text(value: str) -> str:
    """A safe mail header value: one line, no control characters, at most MAX_HEADER_CHARS characters."""
    return cap(one_line(value), MAX_HEADER_CHARS)


def _visible(char: str, keep_newlines: bool) -> str:
    if char == "\n":
        return char if keep_newlines else " "
    category = unicodedata.category(char)
    if category in ("Cc", "Zl", "Zp") or char.isspace():
        return " "  # NUL, ESC, CR, NEL, U+2028…: Python's email package treats several as line breaks
    if category == "Cs":
        return "\ufffd"  # a lone surrogate (JSON allows "\ud800") cannot be encoded as UTF-8 at all
    if category in ("Cf", "Co"):
        return ""  # invisible format characters, e.g. right-to-left overrides that disguise text
    return char


def cap(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"


def utc_text(moment: datetime) -> str:
    # A naive time is taken as UTC: the app records every time in UTC.
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def shorten(text: str, limit: int) -> str:
    """At most ``limit`` characters for a message: cut after the last whole word that fits, with "…". Only a single
    word longer than half the limit (a URL, say) is cut inside, at its last separator (``/``, ``.``, ``_``…)."""
    if len(text) <= limit:
        return text
    kept = text[: limit - 1]
    for separators in (" ", "/\\.,;:_-=&?"):
        boundary = max(kept.rfind(char) for char in separators)
        if boundary >= limit // 2:
            kept = kept[:boundary]
            break
    return kept.rstrip(" ,;:(-") + "…"
