"""The blocks (``MarkDownParser.cpp``, ``MarkDownBlockParser.cpp``): links, lists, numbers, line breaks, text."""

from __future__ import annotations

import html
import string

from tests.teams_mobile.emphasis import text_run
from tests.teams_mobile.tokens import Result, Stream, Token, is_control, is_space


def transform_to_html(text: str, ordered_lists: bool = False) -> tuple[str, bool]:
    """The parser's HTML for ``text`` and whether it made tags (what iOS asks before showing the HTML)."""
    if not text:
        return "<p></p>", False
    stream = Stream(html.escape(text, quote=True).replace("&#x27;", "'"), ordered_lists)
    result = Result()
    while not stream.done:
        block(stream, result)
    result.translate()
    result.tokens[0].head = result.tokens[-1].tail = True
    return result.html(), result.tags


def block(stream: Stream, result: Result) -> None:
    char = stream.peek()
    if char == "[":
        _link(stream, result)
    elif char in ("]", ")"):
        result.add(Token(stream.get()))
    elif char in ("\n", "\r"):
        result.add(Token(stream.get(), newline=True))
    elif char in ("-", "+", "*"):
        _list(stream, result)
    elif char and char in string.digits:
        _number(stream, result)
    else:
        text_run(stream, result)


def _list(stream: Stream, result: Result) -> None:
    item = Result()
    marker = stream.get()
    if _list_item(stream, item):
        item.translate()
        inner = "<li>" + item.html() + "</li>"
        item = Result(tags=True)
        item.add(Token(inner, block="ul"))
    elif marker == "*":
        stream.pos -= 1
        text_run(stream, item)
    else:
        item.add(Token(marker))
    result.take(item)


def _number(stream: Stream, result: Result) -> None:
    item = Result()
    digits = ""
    while stream.peek() and stream.peek() in string.digits:
        digits += stream.get()
    if stream.ordered_lists and stream.peek() == ".":
        stream.get()
        if _list_item(stream, item):
            item.translate()
            inner = "<li>" + item.html() + "</li>"
            item = Result(tags=True)
            item.add(Token(inner, block="ol", start=digits))
        else:
            item.add(Token(digits + "."))
    else:
        item.add(Token(digits))
    result.take(item)


def _list_item(stream: Stream, item: Result) -> bool:
    """After a marker: a space makes it a list item, which runs to a new item, a blank line or the end."""
    if stream.peek() != " ":
        return False
    while stream.peek() == " ":
        stream.get()
    block(stream, item)
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
                item.add(Token(digits))
            elif (stream.peek() in ("-", "+", "*") and stream.peek(1) == " ") or stream.peek() in ("\n", "\r"):
                while stream.peek() in ("\n", "\r") and stream.peek():
                    stream.get()
                break
            item.add(Token(newline))
        block(stream, item)
    return True


def _link(stream: Stream, result: Result) -> None:
    own = Result()  # what a link that does not complete leaves behind
    label = Result()
    label.add(Token(stream.get()))
    if stream.peek() != "]":
        while stream.peek() and stream.peek() != "]":
            block(stream, own)
            label.take(own)
            if label.captured:
                break
        if stream.peek() != "]":
            own.take(label)
            result.take(own)
            return
    label.add(Token(stream.get()))
    if stream.peek() != "(":
        own.take(label)
        result.take(own)
        return
    label.add(Token(stream.get()))
    end = _destination_end(stream)
    if not stream.peek() or not end or is_control(stream.peek()) or is_space(stream.peek()):
        own.take(label)
        result.take(own)
        return
    while stream.pos < end and stream.peek():
        if stream.peek() == "[":
            own.add(Token(stream.get()))
        else:
            block(stream, own)
    if stream.peek() == ")":
        stream.get()
    destination = own.html()
    label.tokens = label.tokens[1:-2]
    label.translate()
    link = Result(tags=True, captured=True)
    link.add(Token(f'<a href="{destination}">{label.html()}</a>'))
    result.take(link)


def _destination_end(stream: Stream) -> int:
    """Where the parenthesis that closes the destination is (0: nowhere)."""
    depth = 1
    for position in range(stream.pos, len(stream.text)):
        depth += {"(": 1, ")": -1}.get(stream.text[position], 0)
        if depth == 0:
            return position
    return 0
