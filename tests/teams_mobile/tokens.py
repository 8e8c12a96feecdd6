"""The parser's pieces: the text it reads, the tokens it writes (text, emphasis runs, list items, links) and
how it pairs emphasis runs (``MarkDownParsedResult.cpp``). See tests/teams_mobile/__init__.py."""

from __future__ import annotations

import string
from dataclasses import dataclass, field

STOPS = "[])\n\r"  # where text ends and the next block starts


class Stream:
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
class Token:
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
class Emphasis(Token):
    """A run of ``*`` or ``_``: ``left`` opens, ``right`` closes, ``both`` can do either."""

    kind: str = "left"
    char: str = "*"
    unused: int = 0
    opens: bool = False  # the direction of a right or both run after matching turned it
    tags: list[str] = field(default_factory=list)

    @property
    def is_left(self) -> bool:
        return self.kind == "left" or self.opens

    def matches(self, other: Emphasis) -> bool:
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
class Result:
    tokens: list[Token] = field(default_factory=list)
    emphases: list[Emphasis] = field(default_factory=list)
    tags: bool = False
    captured: bool = False

    def add(self, token: Token) -> None:
        if self.tokens:
            self._close_block(token)
        self.tokens.append(token)

    def take(self, other: Result) -> None:
        """Move ``other``'s tokens to the end of this one (its flags stay with it, as the parser's do)."""
        if self.tokens and other.tokens:
            self._close_block(other.tokens[0])
        self.tokens += other.tokens
        self.emphases += other.emphases
        other.tokens, other.emphases = [], []
        self.tags = self.tags or other.tags
        self.captured = other.captured

    def _close_block(self, token: Token) -> None:
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
        openers: list[Emphasis] = []
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


def is_alnum(char: str) -> bool:
    return bool(char) and (ord(char) > 0x7F or (char.isascii() and char.isalnum()))  # UTF-8 bytes count as letters


def is_space(char: str) -> bool:
    return bool(char) and char in " \t\n\v\f\r"


def is_punct(char: str) -> bool:
    return bool(char) and char in string.punctuation


def is_control(char: str) -> bool:
    return bool(char) and (ord(char) < 0x20 or ord(char) == 0x7F)
