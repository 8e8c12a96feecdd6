"""What Teams desktop and web show: cards rendered by the Adaptive Cards SDK with markdown-it in jsdom
(devtools/cards/render.js), for the card tests."""

from __future__ import annotations

import html
import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WORD_JOINER = "\u2060"
# What Markdown makes (a FactSet is a table of the renderer's own, class ac-factset).
FORMATTING = re.compile(r"<(strong|em|b|i|h\d|ol|ul|li|code|pre|blockquote|hr|img|s|del)\b|<table\b(?![^>]*ac-factset)")
LINK = re.compile(r'<a\b[^>]*href="([^"]*)"[^>]*>(.*?)</a>', re.DOTALL)


@dataclass(frozen=True)
class WebShown:
    text: str  # the visible text, white space collapsed
    formatted: bool
    links: tuple[tuple[str, str], ...]  # (href, visible text) of every link

    @property
    def as_read(self) -> str:
        return self.text.replace(WORD_JOINER, "")


def render(message: dict[str, Any]) -> tuple[str, list[str]]:
    """A webhook message's card as the Adaptive Cards renderer draws it: (HTML, its parse and validation errors)."""
    result = _node(message)
    return result["html"], result["errors"]


def render_texts(texts: list[str]) -> list[WebShown]:
    """Each text alone in a TextBlock, as Teams desktop shows it."""
    return [shown(result["html"]) for result in _node({"texts": texts})["texts"]]


def shown(markup: str) -> WebShown:
    links = tuple((html.unescape(href), visible_text(text)) for href, text in LINK.findall(markup))
    return WebShown(visible_text(markup), bool(FORMATTING.search(markup)), links)


def visible_text(markup: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", markup))).strip()


def _node(payload: dict[str, Any]) -> dict[str, Any]:
    run = subprocess.run(
        ["node", str(ROOT / "devtools/cards/render.js")],
        input=json.dumps(payload),
        text=True,
        capture_output=True,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    result: dict[str, Any] = json.loads(run.stdout)
    return result
