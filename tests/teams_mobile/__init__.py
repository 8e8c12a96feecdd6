"""A model of what Teams on iOS and Android shows for the text of a TextBlock or a Fact, for the card tests.

Written from reading microsoft/Teams-AdaptiveCards-Mobile (shared/REFERENCE.md §9.1), not copied from it:

- ``source/shared/cpp/ObjectModel/MarkDownParser.cpp``: the text is HTML-escaped (``< > " &``), then parsed in
  blocks. A block starts at the start, after a line break, at ``[`` (a link), at ``]`` and ``)`` (taken as
  characters), at ``-``, ``+``, ``*`` (a list when a space follows; otherwise the character, and the next one
  starts a block again) and at digits (taken as a number, and the next character starts a block; builds before
  #352 of 2025-04 and the Kotlin port read ``1. `` as an ordered list). Everything else is text with emphasis.
- ``MarkDownBlockParser.cpp``: in text, ``[ ] ) \\n \\r`` end the text unless a backslash comes before them, in
  which case the backslash is dropped; a backslash before ``*`` or ``_`` is dropped too (since #58, 2023-12).
  Runs of ``*`` or ``_`` become emphasis by the flanking rules there (the character before the run, the one
  after it); a backslash right after a run is dropped. ``[text](destination)`` with balanced parentheses is a
  link. ``MarkDownParsedResult.cpp`` pairs the emphasis runs (same character, the rule of three).
- Android (``RendererUtil.getSpecialTextSpans``) always shows the parser's HTML through ``Html.fromHtml``, line
  breaks as ``<br/>``. iOS (``UtiliOS.mm buildIntermediateResultForText``) shows that HTML only when the parser
  made tags; otherwise the raw text, with ``\\*`` and ``\\_`` replaced by ``*`` and ``_``.
- Both first replace ``{{DATE(…)}}``/``{{TIME(…)}}`` with a localized date (``DateTimePreparser.cpp``).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from tests.teams_mobile.parser import transform_to_html

__all__ = ["WORD_JOINER", "Shown", "android", "ios", "phones", "transform_to_html"]

WORD_JOINER = "\u2060"
_DATE_FUNCTION = re.compile(
    r"\{\{(DATE|TIME)\(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})(, ?(SHORT|LONG|COMPACT))?\)\}\}"
)
_HUNGARIAN_DATE = re.compile(r"[0-9]{4}. [0-9]{2}. [0-9]{2}. [0-9]{2}:[0-9]{2} [AM|PM]")
_FORMATTING = re.compile(r"<(em|strong|a|ul|ol|listItem)\b")


@dataclass(frozen=True)
class Shown:
    text: str  # what the reader sees
    formatted: bool  # bold, italic, a list, a link or a date the client wrote

    @property
    def as_read(self) -> str:
        """The text without the invisible word joiners (what the reader perceives)."""
        return self.text.replace(WORD_JOINER, "")


def android(text: str, ordered_lists: bool = False) -> Shown:
    """What Teams for Android shows (``ordered_lists``: builds before 2025-04, the Kotlin port)."""
    dated, changed = _dates(text)
    markup, _ = transform_to_html(dated, ordered_lists)
    return _from_html(markup, changed)


def ios(text: str, ordered_lists: bool = False) -> Shown:
    """What Teams for iOS shows."""
    dated, changed = _dates(text)
    hungarian = _HUNGARIAN_DATE.match(dated)
    if hungarian and len(dated) == len(hungarian.group(0)) + 1:
        return Shown(dated, changed)  # iOS skips Markdown for a Hungarian date ("2026. 11. 30. 09:15 PM")
    markup, tags = transform_to_html(dated, ordered_lists)
    if tags:
        return _from_html(markup, changed)
    return Shown(dated.replace("\\*", "*").replace("\\_", "_"), changed)


def phones(text: str) -> dict[str, Shown]:
    """Every mobile client the model knows: iOS and Android, current builds and those that read ``1. ``."""
    return {
        "iOS": ios(text),
        "Android": android(text),
        "iOS (ordered lists)": ios(text, ordered_lists=True),
        "Android (ordered lists)": android(text, ordered_lists=True),
    }


def _dates(text: str) -> tuple[str, bool]:
    """Each date function becomes a date (a TIME with a style stays text); the model does not check the date."""
    replaced = _DATE_FUNCTION.sub(lambda m: m.group(0) if m.group(1) == "TIME" and m.group(3) else "[a date]", text)
    return replaced, replaced != text


def _from_html(markup: str, dated: bool) -> Shown:
    markup = markup.replace("<li>", "<listItem>")
    markup = re.sub(r"\r\n|\n\r|\r|\n", "<br/>", markup)
    formatted = bool(_FORMATTING.search(markup)) or dated
    text = re.sub(r"<br/>", "\n", markup)
    text = re.sub(r"<listItem>", "• ", text)
    text = re.sub(r"<[^>]*>", "", text)
    text = re.sub(r" {2,}", " ", html.unescape(text))  # Html.fromHtml collapses runs of spaces
    return Shown(text.strip("\n"), formatted)
