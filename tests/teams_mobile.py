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
import string
from dataclasses import dataclass, field

WORD_JOINER = "\u2060"
_STOPS = "[])\n\r"  # where text ends and the next block starts
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


# --- the parser ----------------------------------------------------------------------------------------------


def transform_to_html(text: str, ordered_lists: bool = False) -> tuple[str, bool]:
    """The parser's HTML for ``text`` and whether it made tags (what iOS asks before showing the HTML)."""
    if not text:
        return "<p></p>", False
    stream = _Stream(html.escape(text, quote=True).replace("&#x27;", "'"), ordered_lists)
    result = _Result()
    while not stream.done:
        _block(stream, result)
    result.translate()
    result.tokens[0].head = result.tokens[-1].tail = True
    return result.html(), result.tags


class _Stream:
    def __init__(self, text: str, ordered_lists: bool) -> None:
        self.text, self.pos, self.ordered_lists = text, 0, ordered_lists

    @property
    def done(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self, ahead: int = 0) -> str:
        return self.text[self.pos + ahead : self.pos + ahead + 1]

    def get(self) -> str:
        char = self.peek()
        self.pos += len(char)
        return char


@dataclass(eq=False)
class _Token:
    text: str
    block: str = "p"  # p, ul or ol (a change of block closes one and opens the other)
    newline: bool = False
    start: str = ""  # an ordered list's first number
    head: bool = False
    tail: bool = False

    def html(self) -> str:
        opening, closing = {
            "p": ("<p>", "</p>"),
            "ul": ("<ul>", "</ul>"),
            "ol": (f'<ol start="{self.start}">', "</ol>"),
        }[self.block]
        return (opening if self.head else "") + self.text + (closing if self.tail else "")


@dataclass(eq=False)
class _Emphasis(_Token):
    """A run of ``*`` or ``_``: ``left`` opens, ``right`` closes, ``both`` can do either."""

    kind: str = "left"
    char: str = "*"
    unused: int = 0
    opens: bool = False  # the direction of a right or both run after matching turned it
    tags: list[str] = field(default_factory=list)

    @property
    def is_left(self) -> bool:
        return self.kind == "left" or self.opens

    def matches(self, other: _Emphasis) -> bool:
        both = self.kind == "both" or other.kind == "both"
        return self.char == other.char and not (both and (self.unused + other.unused) % 3 == 0)

    def push(self, tag: str) -> None:
        closing = self.kind == "right" or (self.kind == "both" and not self.opens)
        self.tags.append(f"</{tag}>" if closing else f"<{tag}>")

    def html(self) -> str:
        unused = self.text[len(self.text) - self.unused :] if self.unused else ""
        inner = unused + "".join(reversed(self.tags)) if self.kind == "left" else "".join(self.tags) + unused
        return ("<p>" if self.head else "") + inner + ("</p>" if self.tail else "")


@dataclass(eq=False)
class _Result:
    tokens: list[_Token] = field(default_factory=list)
    emphases: list[_Emphasis] = field(default_factory=list)
    tags: bool = False
    captured: bool = False

    def add(self, token: _Token) -> None:
        if self.tokens:
            self._close_block(token)
        self.tokens.append(token)

    def take(self, other: _Result) -> None:
        """Move ``other``'s tokens to the end of this one (its flags stay with it, as the parser's do)."""
        if self.tokens and other.tokens:
            self._close_block(other.tokens[0])
        self.tokens += other.tokens
        self.emphases += other.emphases
        other.tokens, other.emphases = [], []
        self.tags = self.tags or other.tags
        self.captured = other.captured

    def _close_block(self, token: _Token) -> None:
        if self.tokens[-1].block != token.block:
            if self.tokens[-1].newline:
                self.tokens.pop()
            if self.tokens:
                self.tokens[-1].tail = True
            token.head = True

    def html(self) -> str:
        return "".join(token.html() for token in self.tokens)

    def translate(self) -> None:
        """Pair the emphasis runs: the nearest matching opener first; a closer that matches none turns into an
        opener when it is of the opener's character, else it is passed over."""
        openers: list[_Emphasis] = []
        index = 0
        while index < len(self.emphases):
            current = self.emphases[index]
            if current.is_left or (current.kind == "both" and not openers):
                current.opens = current.opens or current.kind == "both"
                openers.append(current)
                index += 1
                continue
            if not openers:
                index += 1
                continue
            opener = next((candidate for candidate in reversed(openers) if candidate.matches(current)), None)
            if opener is None:
                if openers[-1].char == current.char:
                    current.opens = True
                else:
                    index += 1
                continue
            del openers[openers.index(opener) + 1 :]
            count = min(opener.unused, current.unused)
            opener.unused -= count
            current.unused -= count
            self.tags = self.tags or count > 0
            for tag in (["em"] if count % 2 else []) + ["strong"] * (count // 2):
                opener.push(tag)
                current.push(tag)
            if current.unused == 0:
                index += 1
            if opener.unused == 0:
                openers.pop()


def _block(stream: _Stream, result: _Result) -> None:
    char = stream.peek()
    if char == "[":
        _link(stream, result)
    elif char in ("]", ")"):
        result.add(_Token(stream.get()))
    elif char in ("\n", "\r"):
        result.add(_Token(stream.get(), newline=True))
    elif char in ("-", "+", "*"):
        _list(stream, result)
    elif char and char in string.digits:
        _number(stream, result)
    else:
        _text(stream, result)


def _list(stream: _Stream, result: _Result) -> None:
    item = _Result()
    marker = stream.get()
    if _list_item(stream, item):
        item.translate()
        inner = "<li>" + item.html() + "</li>"
        item = _Result(tags=True)
        item.add(_Token(inner, block="ul"))
    elif marker == "*":
        stream.pos -= 1
        _text(stream, item)
    else:
        item.add(_Token(marker))
    result.take(item)


def _number(stream: _Stream, result: _Result) -> None:
    item = _Result()
    digits = ""
    while stream.peek() and stream.peek() in string.digits:
        digits += stream.get()
    if stream.ordered_lists and stream.peek() == ".":
        stream.get()
        if _list_item(stream, item):
            item.translate()
            inner = "<li>" + item.html() + "</li>"
            item = _Result(tags=True)
            item.add(_Token(inner, block="ol", start=digits))
        else:
            item.add(_Token(digits + "."))
    else:
        item.add(_Token(digits))
    result.take(item)


def _list_item(stream: _Stream, item: _Result) -> bool:
    """After a marker: a space makes it a list item, which runs to a new item, a blank line or the end."""
    if stream.peek() != " ":
        return False
    while stream.peek() == " ":
        stream.get()
    _block(stream, item)
    while not stream.done:
        if stream.peek() in ("\n", "\r"):
            newline = stream.get()
            if stream.peek() and stream.peek() in string.digits:
                digits = ""
                while stream.peek() and stream.peek() in string.digits:
                    digits += stream.get()
                if stream.peek() == ".":
                    stream.pos -= 1  # the parser puts one character back
                    break
                item.add(_Token(digits))
            elif (stream.peek() in ("-", "+", "*") and stream.peek(1) == " ") or stream.peek() in ("\n", "\r"):
                while stream.peek() in ("\n", "\r") and stream.peek():
                    stream.get()
                break
            item.add(_Token(newline))
        _block(stream, item)
    return True


def _link(stream: _Stream, result: _Result) -> None:
    own = _Result()  # what a link that does not complete leaves behind
    label = _Result()
    label.add(_Token(stream.get()))
    if stream.peek() != "]":
        while stream.peek() and stream.peek() != "]":
            _block(stream, own)
            label.take(own)
            if label.captured:
                break
        if stream.peek() != "]":
            own.take(label)
            result.take(own)
            return
    label.add(_Token(stream.get()))
    if stream.peek() != "(":
        own.take(label)
        result.take(own)
        return
    label.add(_Token(stream.get()))
    end = _destination_end(stream)
    if not stream.peek() or not end or _is_control(stream.peek()) or _is_space(stream.peek()):
        own.take(label)
        result.take(own)
        return
    while stream.pos < end and stream.peek():
        if stream.peek() == "[":
            own.add(_Token(stream.get()))
        else:
            _block(stream, own)
    if stream.peek() == ")":
        stream.get()
    destination = own.html()
    label.tokens = label.tokens[1:-2]
    label.translate()
    link = _Result(tags=True, captured=True)
    link.add(_Token(f'<a href="{destination}">{label.html()}</a>'))
    result.take(link)


def _destination_end(stream: _Stream) -> int:
    """Where the parenthesis that closes the destination is (0: nowhere)."""
    depth = 1
    for position in range(stream.pos, len(stream.text)):
        depth += {"(": 1, ")": -1}.get(stream.text[position], 0)
        if depth == 0:
            return position
    return 0


# --- text and emphasis ----------------------------------------------------------------------------------------


class _Text:
    """One text run: characters, and runs of * or _ classified by what stands before and after them."""

    def __init__(self) -> None:
        self.behind = "init"  # init, alnum, space, punct or escape: the character before
        self.count = 0
        self.char = ""
        self.check_ahead = self.check_intra = False
        self.token = ""
        self.result = _Result()

    def run(self, stream: _Stream) -> None:
        in_run = False
        while True:
            step = self._in_run(stream) if in_run else self._in_text(stream)
            if step is None:
                return
            in_run = step

    def _in_text(self, stream: _Stream) -> bool | None:
        char = stream.peek()
        if not char or (self.behind != "escape" and char in _STOPS):
            self._flush_text()
            return None
        if char in "*_" and self.behind != "escape":
            self._flush_text()
            if stream.pos:
                self._look(stream.text[stream.pos - 1])
            self._grow_run(char)
            self.token += stream.get()
            return True
        if self.behind == "escape" and char in _STOPS + "*_":
            self.token = self.token[:-1]  # the backslash
        self._look(char)
        self.token += stream.get()
        return False

    def _in_run(self, stream: _Stream) -> bool | None:
        char = stream.peek()
        if not char or char in _STOPS:
            self._end_run(char)
            return None
        if char in "*_" and self.behind != "escape":
            if char == self.char:
                self._grow_run(char)
            self.token += stream.get()
            return True
        self._end_run(char)
        if char == "\\":
            stream.get()
        self._look(stream.peek())
        self.token += stream.get()
        return False

    def _grow_run(self, char: str) -> None:
        if self.behind != "space":
            self.check_ahead = self.behind == "punct"
            self.check_intra = self.behind == "alnum" and char == "_"
        self.count += 1
        self.char = char

    def _end_run(self, after: str) -> None:
        kind = (
            ("both" if self._opens(after) else "right") if self._closes(after) else "left" if self._opens(after) else ""
        )
        if kind:
            run = _Emphasis(self.token, kind=kind, char=self.char, unused=self.count)
            self.result.emphases.append(run)
            self.result.add(run)
        elif self.token:
            self.result.add(_Token(self.token))
        self.token = ""
        self.count = 0

    def _opens(self, after: str) -> bool:
        return (
            self.count > 0
            and bool(after)
            and not _is_space(after)
            and not (self.behind == "alnum" and (_is_punct(after) or self.char == "_"))
        )

    def _closes(self, after: str) -> bool:
        flanked = self.check_ahead or self.check_intra or self.char == "*"
        if (not after or _is_space(after)) and self.behind != "space" and flanked:
            return True
        if _is_alnum(after) and self.behind not in ("space", "init"):
            return not (self.check_ahead or self.check_intra)
        return _is_punct(after) and self.behind != "space"

    def _look(self, char: str) -> None:
        if _is_alnum(char):
            self.behind = "alnum"
        elif _is_space(char):
            self.behind = "space"
        elif _is_punct(char):
            self.behind = "escape" if char == "\\" else "punct"

    def _flush_text(self) -> None:
        if self.token:
            self.result.add(_Token(self.token))
        self.token = ""


def _text(stream: _Stream, result: _Result) -> None:
    text = _Text()
    text.run(stream)
    result.take(text.result)


def _is_alnum(char: str) -> bool:
    return bool(char) and (ord(char) > 0x7F or (char.isascii() and char.isalnum()))  # UTF-8 bytes count as letters


def _is_space(char: str) -> bool:
    return bool(char) and char in " \t\n\v\f\r"


def _is_punct(char: str) -> bool:
    return bool(char) and char in string.punctuation


def _is_control(char: str) -> bool:
    return bool(char) and (ord(char) < 0x20 or ord(char) == 0x7F)
