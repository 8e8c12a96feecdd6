"""Campaign parameters of the offer link (``mktcmpid``, ``utm_*``, ``src``…), found in a lead's Description.

AppSource and Azure Marketplace append them to offer links; a public receiver reports them arriving in
``Description`` as a JSON object, query-string text occurs too (shared/REFERENCE.md §8.2), and publishers see
the marketplace's own text form ``Campaigns: …`` (§9.2; only an empty one was ever quoted, so its list is read
leniently: ``key=value`` pairs as a query string, anything else as the campaign ids, kept as ``mktcmpid``).
Parsing is lenient: whatever does not parse is simply not a parameter, and nothing here ever raises. Pure, no I/O.

Every step here is linear in the Description's length (it can be ~64 KiB): the JSON object is the text from the
first ``{`` to the last ``}`` (what a greedy regex from brace to brace matched, without the regex engine's
retry from every ``{``), and a lead computes its parameters once (``Lead.campaign_parameters``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

# Parameter → the lead table column that keeps it. Only these are kept: a Description is free text.
COLUMNS = {
    "mktcmpid": "CampaignMktcmpid",
    "utm_source": "CampaignUtmSource",
    "utm_medium": "CampaignUtmMedium",
    "utm_campaign": "CampaignUtmCampaign",
    "utm_term": "CampaignUtmTerm",
    "utm_content": "CampaignUtmContent",
    "src": "CampaignSrc",
    "partnerid": "CampaignPartnerId",
    "ocid": "CampaignOcid",
}
MAX_VALUE_CHARS = 200
# key=value pairs of the known parameters anywhere in the text (a URL, a bare query string, a sentence).
_PAIR = re.compile(r"(?<![A-Za-z0-9_])(" + "|".join(COLUMNS) + r")=([^&\s#]*)", re.IGNORECASE)
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
# "Campaigns: …" at the start of a line; [ \t]* (not \s*) keeps the search linear on a text of blank lines.
_CAMPAIGNS = re.compile(r"^[ \t]*campaigns:([^\n]*)", re.IGNORECASE | re.MULTILINE)
_QUERY_KEY = re.compile(r"[A-Za-z0-9_.\-]+")


def parameters(description: str) -> dict[str, str]:
    """The campaign parameters in ``description``, by lower-case name, in COLUMNS order; {} when none."""
    found = _from_json(description) or _from_campaigns(description) or _from_query(description)
    cleaned = {name: _clean(value) for name, value in found.items()}
    return {name: cleaned[name] for name in COLUMNS if cleaned.get(name)}


def row_columns(found: Mapping[str, str]) -> dict[str, str]:
    """The lead table columns for the parameters found (none when there are none)."""
    return {COLUMNS[name]: value for name, value in found.items()}


def summary(found: Mapping[str, str]) -> str:
    """``mktcmpid=abc; utm_source=newsletter`` for the mail and the Dynamics description."""
    return "; ".join(f"{name}={value}" for name, value in found.items())


def customer_note(description: str, found: Mapping[str, str]) -> str:
    """What the customer wrote in the Description, without what only carries the offer link's parameters
    (``found``, from ``parameters``): a ``Campaigns: …`` line, or a Description that is nothing but a JSON object
    or a query string. Those are the Campaign fact's; repeated raw they only get in a salesperson's way."""
    text = _CAMPAIGNS.sub("", description).strip()
    if found and (_is_json_object(text) or _is_query_string(text)):
        return ""
    return text


def _is_json_object(text: str) -> bool:
    if not (text.startswith("{") and text.endswith("}")):
        return False
    try:
        return isinstance(json.loads(text), dict)
    except (ValueError, RecursionError):
        return False


def _is_query_string(text: str) -> bool:
    pairs = text.removeprefix("?").split("&")
    return all(
        _QUERY_KEY.fullmatch(key) and sep and not any(char.isspace() for char in value)
        for key, sep, value in (pair.partition("=") for pair in pairs)
    )


def _from_campaigns(text: str) -> dict[str, str]:
    match = _CAMPAIGNS.search(text)
    listed = match.group(1).strip() if match else ""
    if not listed:
        return {}
    if pairs := _from_query(listed):
        return pairs
    ids = [part.strip() for part in re.split(r"[,;]", listed) if part.strip()]
    return {"mktcmpid": ", ".join(ids)} if ids else {}


def _from_json(text: str) -> dict[str, str]:
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        return {}
    try:
        document: Any = json.loads(text[start : end + 1])
    except (ValueError, RecursionError):
        return {}
    if not isinstance(document, dict):
        return {}
    found: dict[str, str] = {}
    for key, value in document.items():
        name = str(key).strip().lower()
        if name in COLUMNS and isinstance(value, (str, int, float)) and not isinstance(value, bool):
            found.setdefault(name, str(value))
    return found


def _from_query(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for key, value in _PAIR.findall(text):
        # parse_qsl decodes %xx and + as the browser encoded them; a value it cannot decode is kept as it came.
        decoded = parse_qsl(f"v={value}", keep_blank_values=True)
        found.setdefault(key.lower(), decoded[0][1] if decoded else value)
    return found


def _clean(value: str) -> str:
    return _UNPRINTABLE.sub(" ", value).strip()[:MAX_VALUE_CHARS]
