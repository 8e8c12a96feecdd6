"""Text for a Teams card that every Teams client shows exactly as written. Pure, linear in the text's length.

Teams renders Markdown in every TextBlock and Fact title and value, and no card property turns it off
(shared/REFERENCE.md §9.1). Three renderers read the same text:

- Teams desktop and web: CommonMark (markdown-it with linkify in devtools/cards), where ``\\`` before any ASCII
  punctuation is an escape that disappears, plus the Adaptive Cards ``{{DATE(…)}}``/``{{TIME(…)}}`` functions.
- Android: the shared C++ parser of microsoft/Teams-AdaptiveCards-Mobile, whose HTML goes through
  ``Html.fromHtml``. The parser drops a backslash only before ``[ ] ) * _`` and a line break; every other
  backslash is shown. It starts a list at ``- ``, ``+ ``, ``* `` (and, on builds before 2025-04 and in the
  Kotlin port, ``1. ``) wherever a block starts: at the start, after a line break, after ``[``, ``]`` or ``)``,
  and after a run of ``-``, ``+`` or digits that itself stands at a block start. It HTML-escapes ``< > " &``.
- iOS: the same parser; when it finds no formatting, iOS shows the raw text with only ``\\*`` and ``\\_``
  turned into ``*`` and ``_``, so every other backslash is shown there too. (Android builds before the parser's
  fix #58 of 2023-12 show ``\\*`` and ``\\_`` too; nothing both invisible and safe stops emphasis instead.)

So a backslash escape is used only where all three remove it: ``*`` and ``_`` (the emphasis and list
characters) become ``\\*`` and ``\\_``. Every other construct is broken where it would start by U+2060 WORD
JOINER, which is invisible, not a space (no line break, no gap) and not Markdown punctuation on any client:

- a list marker (``-``, ``+``, ``.`` or ``)`` after digits) that would start a list: ``-`` joiner `` item``;
- a line that would open a heading, quote, fence, table or rule (``#``, ``>``, a backtick, ``~``, ``=``, ``|``,
  a line of ``-``): the joiner goes first;
- ``](`` and ``]:`` (a link, an image, a link definition), ``<`` before a letter, ``/``, ``!`` or ``?`` (HTML, an
  autolink, a Teams ``<at>`` mention), ``&`` before an entity name, ``{{`` (a date function), ``~~``
  (strike-through), and ``//``, ``www.`` and ``mailto:`` (what linkify turns into links);
- a backslash the customer typed, when an escape could swallow it (before punctuation or a line break).

Backticks are left alone: an escaped backtick shows its backslash on phones, no invisible character stops a
CommonMark code span, and Teams does not render code spans in cards (REFERENCE §9.1, cards-format). A
customer's own invisible characters never reach here (wording.one_line drops them), so every joiner in a card is
one of ours. Ordinary e-mail addresses and phone numbers need none: copied from the card, they are what the
customer typed. Where linkify makes a valid e-mail address into a link, it is a ``mailto:`` of that address.
"""

from __future__ import annotations

import json
import re
import string

from leads.core.wording import cap

WORD_JOINER = "\u2060"
_ESCAPED = frozenset("*_")
_PUNCTUATION = frozenset(string.punctuation)
_LIST_MARKERS = frozenset("-+.)")
_CHAIN = frozenset("-+.0123456789")  # after a block start, these keep the next character at one (see above)
_BLOCK_STARTS = frozenset("\n\r[])")
_LINE_OPENERS = frozenset("#>=|`~")
_LINE_END = ("", " ", "\t", "\n")
_ENTITY = re.compile(r"#[0-9]{1,7};|#[xX][0-9a-fA-F]{1,6};|[A-Za-z][A-Za-z0-9]{1,31};")
_HTML_START = frozenset(string.ascii_letters + "/!?")


def plain(text: str) -> str:
    """``text`` for a TextBlock or a Fact: shown as written, never formatted or linked, on every Teams client."""
    out: list[str] = []
    at_block_start = True  # where the mobile parser would start a list
    for index, char in enumerate(text):
        after = text[index + 1 : index + 2]
        if (index == 0 or text[index - 1] in "\n\r") and _opens_block(text, index):
            out.append(WORD_JOINER)
        out.append("\\" + char if char in _ESCAPED else char)
        if _breaks_after(text, index, char, after, at_block_start):
            out.append(WORD_JOINER)
        at_block_start = char in _BLOCK_STARTS or (at_block_start and char in _CHAIN)
    return "".join(out)


def fitted(text: str, max_chars: int, max_bytes: int) -> str:
    """``plain(text)`` cut (with "…") to at most ``max_chars`` characters of ``text`` and ``max_bytes`` bytes once
    JSON-encoded as the webhook request carries it (``\\uXXXX`` for every non-ASCII character), so a card with
    every value at its limit stays under the Workflows message limit whatever the alphabet."""
    text = cap(text, max_chars)
    shown = plain(text)
    if _encoded_size(shown) <= max_bytes:
        return shown
    low, high = 0, len(text)  # the longest start of text that fits, found in log(len) tries
    while low < high:
        middle = (low + high + 1) // 2
        if _encoded_size(plain(cap(text, middle))) <= max_bytes:
            low = middle
        else:
            high = middle - 1
    return plain(cap(text, low)) if low else ""


def _encoded_size(text: str) -> int:
    return len(json.dumps(text))


def _opens_block(text: str, index: int) -> bool:
    """Whether the line starting at ``index`` would open a CommonMark block other than a paragraph or a list."""
    char = text[index]
    if char in _LINE_OPENERS:
        return True
    if char != "-":
        return False
    end = text.find("\n", index)
    line = text[index : end if end >= 0 else len(text)]
    return line.count("-") > 1 and not line.strip("- \t")  # a rule or a heading underline: --- or - - -


def _breaks_after(text: str, index: int, char: str, after: str, at_block_start: bool) -> bool:
    """Whether a word joiner must follow ``char`` so that it starts no construct with what comes next."""
    if char == "\\":
        return after in _PUNCTUATION or after == "\n"
    if char in _LIST_MARKERS:
        return at_block_start and after in _LINE_END
    if char == "]":
        return after in ("(", ":")
    if char == "<":
        return after in _HTML_START
    if char == "&":
        return _ENTITY.match(text, index + 1) is not None
    if char in "{~/":
        return after == char
    if char in "wW" and after == ".":
        word_start = index == 2 or (index > 2 and not text[index - 3].isalnum())
        return word_start and text[index - 2 : index + 1].lower() == "www"
    if char in "oO" and after == ":":
        return index >= 5 and text[index - 5 : index + 1].lower() == "mailto"
    return False
