"""Card text shows as typed on every Teams client: checked with the model of the iOS and Android apps
(tests/teams_mobile/) and with the Adaptive Cards renderer and markdown-it that stand for desktop and web."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable

import pytest

from leads.core.card_text import WORD_JOINER, fitted, plain
from tests.teams_mobile import phones
from tests.teams_web import WebShown, render_texts

# Markdown that a client would render: each must read as typed once plain (and does not when left alone).
CONSTRUCTS = [
    "**x**",
    "__x__",
    "_x_",
    "*x*",
    "[a](http://evil.example)",
    "![i](http://evil.example/i.png)",
    "[a]: http://evil.example",
    "- item",
    "+ item",
    "* item",
    "1. one",
    "1) one",
    "x)- y",
    "[- y]",
    "-- y",
    "12- y",
    "-",
    "---",
    "<http://evil.example>",
    "<ada@contoso.example>",
    "&amp; &#64;",
    "http://evil.example",
    "https://evil.example/a_b?c=d",
    "//evil.example/x",
    "mailto:ada@contoso.example",
    "\\*not bold\\*",
    "a\\[b\\]\\(c\\)",
    "# CTO",
    "> quoted",
    "```",
    "~~~",
    "~~struck~~",
    "{{DATE(2026-11-30T09:15:00Z, SHORT)}}",
    "2026. 11. 30.",
]
# Broken too, though neither model renders them: Teams mentions and HTML, www. links, a heading or table start.
DEFENSIVE = ["<at>x</at>", "<b>bold</b>", "www.evil.example", "#1 customer", "`boss`", "= heading", "| a | b |"]
# What ordinary values look like: they must come through untouched.
ORDINARY = [
    "a & b < c",
    "C:\\path\\file",
    "back\\slash\\",
    "ada@contoso.example",
    "ada_lovelace+sales@contoso.example",
    "+44 20 7946 0000",
    "+1 (555) 010-0199",
    "(0)20 7946 0000",
    "2026-11-30",
    "09:15:00",
    "2026-11-30 09:15:00 UTC",
    "Contoso Ltd.",
    "Contoso CRM Connector (SaaS)",
    "Install: now",
]
HOSTILE = CONSTRUCTS + DEFENSIVE + ORDINARY
EMAILS_AND_PHONES = [
    "ada@contoso.example",
    "ada.lovelace@contoso.co.uk",
    "ada_lovelace+sales@contoso.example",
    "o'brien@contoso.example",
    "+44 20 7946 0000",
    "+1 (555) 010-0199",
    "+49 (0)89 1234-5678",
    "(0)20 7946 0000",
    "020 7946 0000 ext. 12",
    "1234567890",
]


def collapsed(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def honest_links(web: WebShown, typed: str) -> bool:
    """The only link a renderer may make is linkify's mailto: of an e-mail address exactly as typed."""
    return all(href == f"mailto:{text}" and text in typed for href, text in web.links)


def test_every_value_reads_as_typed_on_phones_unformatted() -> None:
    for typed in HOSTILE:
        for client, shown in phones(plain(typed)).items():
            assert (shown.as_read, shown.formatted) == (typed, False), (typed, client, shown)


def test_every_value_reads_as_typed_on_desktop_without_formatting_or_links() -> None:
    for typed, web in zip(HOSTILE, render_texts([plain(typed) for typed in HOSTILE]), strict=True):
        assert web.as_read == collapsed(typed) and not web.formatted, (typed, web)
        assert honest_links(web, typed), (typed, web.links)


def test_left_alone_the_constructs_would_not_read_as_typed_so_the_checks_can_fail() -> None:
    for typed, web in zip(CONSTRUCTS, render_texts(CONSTRUCTS), strict=True):
        on_phones = any(shown.formatted or shown.as_read != typed for shown in phones(typed).values())
        on_desktop = web.formatted or web.as_read != collapsed(typed) or not honest_links(web, typed)
        assert on_phones or on_desktop, typed


def test_only_star_and_underscore_are_escaped_the_rest_is_broken_invisibly() -> None:
    for typed in HOSTILE:
        shown = plain(typed)
        assert shown.replace(WORD_JOINER, "").replace("\\*", "*").replace("\\_", "_") == typed, typed
    assert plain("**x** _y_") == "\\*\\*x\\*\\* \\_y\\_"
    assert plain("- item") == f"-{WORD_JOINER} item"
    assert plain("[a](http://evil.example)") == f"[a]{WORD_JOINER}(http:/{WORD_JOINER}/evil.example)"


def test_emails_and_phone_numbers_hold_nothing_invisible_so_copying_gives_them_as_typed() -> None:
    for typed in EMAILS_AND_PHONES:
        assert WORD_JOINER not in plain(typed), typed
    for typed, web in zip(EMAILS_AND_PHONES, render_texts([plain(typed) for typed in EMAILS_AND_PHONES]), strict=True):
        assert web.text == typed and honest_links(web, typed), (typed, web)
        assert all(shown.text == typed for shown in phones(plain(typed)).values()), typed


def test_lines_of_a_note_each_read_as_typed() -> None:
    typed = "Hello\n\n- not a list\n\n1. not a list\n\n# not a heading\n\n---\n\n> not a quote\n\nBye"
    for client, shown in phones(plain(typed)).items():
        assert (shown.as_read, shown.formatted) == (typed, False), client
    [web] = render_texts([plain(typed)])
    assert web.as_read == collapsed(typed) and not web.formatted


@pytest.mark.parametrize(
    ("typed", "limit"),
    [("x" * 5000, 1000), ("\U0001f600" * 5000, 1000), ("\\" * 5000, 1000), ("*" * 5000, 1000), ("名" * 5000, 8000)],
)
def test_fitted_caps_characters_and_the_encoded_size(typed: str, limit: int) -> None:
    shown = fitted(typed, 1500, limit)
    assert shown.endswith("…") and len(json.dumps(shown)) <= limit
    assert len(shown.replace(WORD_JOINER, "").replace("\\*", "*")) <= 1500
    assert len(json.dumps(fitted(typed, 1500, limit + 200))) > limit  # the byte cap is what cut it, not a guess
    assert fitted("Ada", 300, 1000) == "Ada"


@pytest.mark.parametrize("text", ["-" * 60_000, "-\n" * 30_000, "1" * 60_000, "&" * 60_000, "[](" * 20_000])
def test_a_hostile_text_costs_about_what_a_plain_one_of_the_same_size_costs(text: str) -> None:
    # Each character is looked at once, a line's dashes once per line: no regex backtracking, no quadratic case.
    ordinary = "x" * len(text)
    assert _fastest(lambda: plain(text)) < 5 * _fastest(lambda: plain(ordinary)) + 0.005


def _fastest(work: Callable[[], object]) -> float:
    times = []
    for _ in range(3):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)
