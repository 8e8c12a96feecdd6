"""Web addresses: what leads.core.urls accepts, every HTTP client reads the same way.

The reference is the client's own parser: requests prepares a URL with urllib3's ``parse_url`` and connects to
the host that gives; MSAL and our older checks used ``urllib.parse``. For every URL of a corpus of tricky ones
(and of thousands made by inserting troublesome characters at every position of real URLs), either
parse_web_address refuses it, or all three read the same scheme, host, port, path and query, with no user
name.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests
from urllib3.util import parse_url

from leads.core.urls import AddressProblem, WebAddress, parse_web_address

WORKFLOW = (
    "https://default0123456789abcdef0123456789abcdef.0a.environment.api.powerplatform.com:443/powerautomate/"
    "automations/direct/workflows/0123456789abcdef0123456789abcdef/triggers/manual/paths/invoke?api-version=1"
    "&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=AbC-dEf_0123456789abcdefghijklmnopqrstuvwxyz0"
)

REFUSED = [
    "https://evil.example\\@x.environment.api.powerplatform.com/triggers/x?sig=s",  # the reviewer's example
    "https://login.microsoftonline.com@evil.example",
    "https://login.microsoftonline.com:443@evil.example/tenant",
    "https://user:S3CRET@graph.microsoft.com",
    "https://@graph.microsoft.com",
    "https://graph.microsoft.com\\.evil.example/",
    "https://graph.microsoft.com\t.evil.example/",
    "https://graph.microsoft.com\n/",
    " https://graph.microsoft.com",
    "https://graph.microsoft.com /",
    "https://evil.example%2F@graph.microsoft.com",
    "https://evil%2Eexample/",
    "https://ｅvil.example/",
    "https://evil。example/",
    "https://evil.example\u200b/",
    "https://[::1%25eth0]/",
    "https://[::1]x/",
    "https://[not:an:address]/",
    "https://host:0/",
    "https://host:65536/",
    "https://host:/",
    "https://host:8a/",
    "https://host:443:80/",
    "https:///host",
    "https://",
    "https:evil.example",
    "//evil.example/path",
    "ftp://graph.microsoft.com",
    "javascript:alert(1)",
    "https://host./",
    "https://-host/",
    "https://host_name/",
    "https://host/a/../b",
    "https://host/a/./b",
    "https://host/a b",
    "https://host/a%zz",
    "https://host/a{b}",
    "https://host/a?b=<c>",
    "https://host/a#b#c",
    "",
]

ACCEPTED = {
    WORKFLOW: ("https", "default0123456789abcdef0123456789abcdef.0a.environment.api.powerplatform.com", 443),
    "https://graph.microsoft.com": ("https", "graph.microsoft.com", None),
    "HTTPS://Graph.Microsoft.US/": ("https", "graph.microsoft.us", None),
    "https://login.microsoftonline.com/contoso.onmicrosoft.com": ("https", "login.microsoftonline.com", None),
    "https://contoso.crm4.dynamics.com/main.aspx?appid=0c6b&pagetype=entitylist&etn=lead": (
        "https", "contoso.crm4.dynamics.com", None,
    ),
    "http://127.0.0.1:8080/a?b=c#d": ("http", "127.0.0.1", 8080),
    "http://[::1]:8080/": ("http", "::1", 8080),
    "https://evil.example#@good.example/": ("https", "evil.example", None),  # the fragment starts at #
    "https://good.example/path@evil.example": ("https", "good.example", None),  # @ in the path is the path's
    "https://x.example/%2e%2e/": ("https", "x.example", None),
    "https://x.example:00443/": ("https", "x.example", 443),
}  # fmt: skip

INSERTS = [
    "\\", "@", "#", "?", "/", ":", "%", "%2", "%40", "%5C", "%2e", " ", "\t", "\n", "\r", "\x00", "\x7f", "[", "]",
    "[::1]", "。", "＠", "..", "./", "evil@", "u:p@", ":443", ":99999", "\u200b", "'", '"', "<", "{", "|", "^",
    "`", "~", ";", "=", "&", "+",
]  # fmt: skip
BASES = [
    "https://x.environment.api.powerplatform.com:443/workflows/a/triggers/manual/paths/invoke?sp=%2Ft&sig=s",
    "https://login.microsoftonline.com",
    "https://graph.microsoft.com/v1.0",
    "http://127.0.0.1:8080/a?b=c#d",
    "https://[::1]:4443/x",
]


def client_reading(url: str) -> tuple[str, str, int | None, str, str]:
    """(scheme, host, port, path, query) as requests and urllib3 send it; fails on a user name."""
    parsed = parse_url(url)
    assert parsed.auth is None
    host = (parsed.host or "").strip("[]")
    prepared = requests.Request("POST", url).prepare()  # where requests connects: its prepared URL, parsed again
    connect = parse_url(prepared.url or "")
    assert ((connect.host or "").strip("[]"), connect.port) == (host, parsed.port)
    return parsed.scheme or "", host, parsed.port, parsed.path or "", parsed.query or ""


def stdlib_reading(url: str) -> tuple[str, str, int | None, str, str]:
    parts = urlsplit(url)
    assert parts.username is None and parts.password is None
    return parts.scheme, parts.hostname or "", parts.port, parts.path, parts.query


def assert_read_alike(value: str, address: WebAddress, origin_only: bool) -> None:
    parts = (address.scheme, address.host, address.port, address.path, address.query)
    readings = [client_reading(value), stdlib_reading(value), client_reading(address.url)]
    for reading in readings:
        assert reading[:3] == parts[:3], value
    if not origin_only:
        # urllib.parse leaves %-escapes as typed; urllib3 upper-cases them, as the rebuilt URL does.
        assert readings[0] == parts and readings[2] == parts, value
    assert parse_web_address(address.url) == address  # the rebuilt URL reads as itself


def corpus() -> list[str]:
    made = list(ACCEPTED) + REFUSED
    for base in BASES:
        for insert in INSERTS:
            made += [base[:at] + insert + base[at:] for at in range(len(base) + 1)]
    return made


@pytest.mark.parametrize("value", REFUSED)
def test_what_parsers_could_read_differently_is_refused(value: str) -> None:
    with pytest.raises(AddressProblem) as refused:
        parse_web_address(value)
    assert "evil.example" not in str(refused.value) and "S3CRET" not in str(refused.value)  # never quoted


@pytest.mark.parametrize(("value", "expected"), list(ACCEPTED.items()))
def test_ordinary_urls_are_accepted_and_read_as_the_client_reads_them(
    value: str, expected: tuple[str, str, int | None]
) -> None:
    address = parse_web_address(value)
    assert (address.scheme, address.host, address.port) == expected
    assert_read_alike(value, address, origin_only=False)


def test_every_accepted_url_of_the_corpus_is_read_alike_by_urllib3_requests_and_urllib() -> None:
    accepted = refused = 0
    for value in corpus():
        for origin_only in (False, True):  # what the full reading accepts, the origin-only one accepts too
            try:
                address = parse_web_address(value, origin_only=origin_only)
            except AddressProblem:
                refused += 1
                continue
            accepted += 1
            assert_read_alike(value, address, origin_only)
            break
    assert accepted > 1000 and refused > 1000  # the corpus exercises both sides


def test_the_rebuilt_url_keeps_a_workflows_url_longer_than_255_characters_as_it_was() -> None:
    assert len(WORKFLOW) > 255
    assert parse_web_address(WORKFLOW).url == WORKFLOW


def test_a_bare_host_gets_the_default_scheme_and_the_origin_drops_the_rest() -> None:
    address = parse_web_address("contoso.crm4.dynamics.com/main.aspx?x={y}#z", default_scheme="https", origin_only=True)
    assert address.origin == "https://contoso.crm4.dynamics.com"
    with pytest.raises(AddressProblem, match="https://"):
        parse_web_address("contoso.crm4.dynamics.com")
