"""The model of Teams for iOS and Android (tests/teams_mobile/) against what the shared parser does, in cases
written for this project from reading the parser and its callers (shared/REFERENCE.md §9.1)."""

from __future__ import annotations

import pytest

from tests.teams_mobile import WORD_JOINER, android, ios, phones, transform_to_html


@pytest.mark.parametrize(
    ("text", "markup", "tags"),
    [
        # Emphasis: runs of * and _ by the flanking rules; _ does not work inside a word.
        ("*Contoso* Ltd", "<p><em>Contoso</em> Ltd</p>", True),
        ("Mr __Ada__", "<p>Mr <strong>Ada</strong></p>", True),
        ("snake_case_name", "<p>snake_case_name</p>", False),
        ("a * b * c", "<p>a * b * c</p>", False),
        ("***x***", "<p><strong><em>x</em></strong></p>", True),
        ("*x", "<p>*x</p>", False),
        # The HTML characters are escaped by the parser itself.
        ('a & b < c > "d"', "<p>a &amp; b &lt; c &gt; &quot;d&quot;</p>", False),
        # A backslash goes only before [ ] ) * _ and line breaks; any other stays.
        ("\\*x\\* \\_y\\_", "<p>*x* _y_</p>", False),
        ("\\[a\\] \\(b\\)", "<p>[a] \\(b)</p>", False),
        ("ada\\@contoso\\.example", "<p>ada\\@contoso\\.example</p>", False),
        ("\\+44 \\- \\# \\: \\!", "<p>\\+44 \\- \\# \\: \\!</p>", False),
        ("C:\\path\\file", "<p>C:\\path\\file</p>", False),
        # Lists: - + * and a space wherever a block starts.
        ("- item", "<ul><li>item</li></ul>", True),
        ("+ item", "<ul><li>item</li></ul>", True),
        ("* item", "<ul><li>item</li></ul>", True),
        ("Hello\n- item", "<p>Hello</p><ul><li>item</li></ul>", True),
        ("x)- y", "<p>x)</p><ul><li>y</li></ul>", True),
        ("x]+ y", "<p>x]</p><ul><li>y</li></ul>", True),
        ("[- y", "<p>[</p><ul><li>y</li></ul>", True),
        ("-- y", "<p>-</p><ul><li>y</li></ul>", True),
        ("12- y", "<p>12</p><ul><li>y</li></ul>", True),
        ("a - b", "<p>a - b</p>", False),
        ("-y", "<p>-y</p>", False),
        ("+44 20 7946 0000", "<p>+44 20 7946 0000</p>", False),
        # Current builds read 1. as a number; see the ordered-list cases below.
        ("1. one", "<p>1. one</p>", False),
        # Links: [text](destination), the parentheses balanced, nothing between ] and (.
        ("[a](http://evil.example)", '<p><a href="http://evil.example">a</a></p>', True),
        ("see [a](b(c)) now", '<p>see <a href="b(c)">a</a> now</p>', True),
        ("[a] (b)", "<p>[a] (b)</p>", False),
        ("[a](b", "<p>[a](b</p>", False),
        ("[a]" + WORD_JOINER + "(b)", "<p>[a]" + WORD_JOINER + "(b)</p>", False),
        ("http://evil.example", "<p>http://evil.example</p>", False),
    ],
)
def test_the_parser(text: str, markup: str, tags: bool) -> None:
    assert transform_to_html(text) == (markup, tags)


@pytest.mark.parametrize(
    ("text", "markup", "tags"),
    [
        ("1. one", '<ol start="1"><li>one</li></ol>', True),
        ("Steps\n2. two", '<p>Steps</p><ol start="2"><li>two</li></ol>', True),
        ("1.5 litres", "<p>1.5 litres</p>", False),
        ("1.- x", "<p>1.</p><ul><li>x</li></ul>", True),
    ],
)
def test_builds_before_april_2025_and_the_kotlin_port_read_ordered_lists(text: str, markup: str, tags: bool) -> None:
    assert transform_to_html(text, ordered_lists=True) == (markup, tags)


def test_android_shows_the_html_and_every_backslash_the_parser_left() -> None:
    shown = android("Contoso CRM Connector \\(SaaS\\) \\- a & b")
    assert (shown.text, shown.formatted) == ("Contoso CRM Connector \\(SaaS) \\- a & b", False)
    assert android("**x**").formatted and android("**x**").text == "x"
    assert android("- item").text == "• item"
    assert android("a\nb").text == "a\nb"


def test_ios_shows_raw_text_without_formatting_and_the_html_with_it() -> None:
    raw = ios("Contoso CRM Connector \\(SaaS\\) \\*1\\* a &amp; b")
    assert (raw.text, raw.formatted) == ("Contoso CRM Connector \\(SaaS\\) *1* a &amp; b", False)
    formatted = ios("**x** \\(y\\) a &amp; b")
    assert (formatted.text, formatted.formatted) == ("x \\(y) a &amp; b", True)


def test_ios_skips_markdown_for_a_hungarian_date() -> None:
    assert ios("2026. 11. 30. 09:15 PM").text == "2026. 11. 30. 09:15 PM"


def test_both_write_the_date_functions() -> None:
    for shown in phones("on {{DATE(2026-11-30T09:15:00Z, SHORT)}} at {{TIME(2026-11-30T09:15:00Z)}}").values():
        assert shown.formatted and "{{" not in shown.text
    for text in ("{" + WORD_JOINER + "{DATE(2026-11-30T09:15:00Z, SHORT)}}", "{{TIME(2026-11-30T09:15:00Z, SHORT)}}"):
        assert not any(shown.formatted for shown in phones(text).values())  # broken up; a TIME takes no style


def test_the_reader_does_not_see_word_joiners() -> None:
    assert android("-" + WORD_JOINER + " item").as_read == "- item"
    assert not android("-" + WORD_JOINER + " item").formatted
