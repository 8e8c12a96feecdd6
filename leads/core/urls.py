"""Web addresses from settings, read the way the HTTP clients read them. Pure.

A URL in a setting is read twice: by our checks (which host is it? https?) and by the client that connects
(requests and MSAL hand it to urllib3's ``parse_url``; other code uses ``urllib.parse``). Where the parsers
disagree, a check can pass while the request goes elsewhere: in ``https://evil.example\\@x.environment.api.
powerplatform.com/…`` urllib.parse finds the host ``x.environment…`` and urllib3 ``evil.example`` (a backslash
ends the authority there), and ``https://login.microsoftonline.com@evil.example`` is ``evil.example`` to
both, with the text before ``@`` taken as a user name.

So only URLs every parser reads alike are accepted: printable ASCII with no backslash; ``http`` or ``https``;
no user name or password; a host name of letters, digits, hyphens and dots, an IPv4 address, or a bracketed
IPv6 address; a port of digits; and after the authority only RFC 3986 characters with well-formed %-escapes
and no ``.``/``..`` segments (which urllib3 would rewrite). The app then uses the URL *rebuilt* from the parts
read here, never the text as typed. tests/core/test_urls.py holds this against urllib3's parser, and
against urllib.parse, over a corpus of tricky URLs.

Problems never quote the value: a webhook URL carries a signature, and a typo may sit next to a password.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from leads.core.addresses import LOOPBACK_HOSTS

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_HOST_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_IPV6 = re.compile(r"\[([0-9A-Fa-f:.]+)\]")
_PORT = re.compile(r"[0-9]{1,5}")
# RFC 3986 pchar plus "/" (and "?" in the query and fragment); urllib3 would %-encode anything else.
_PATH = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*")
_QUERY = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*")
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")


class AddressProblem(ValueError):
    """Why a setting is not a usable URL: a phrase to follow the setting's name, never quoting its value."""


@dataclass(frozen=True)
class WebAddress:
    scheme: str  # "https" or "http", lower case
    host: str  # lower case; an IPv6 address without its brackets
    port: int | None
    path: str  # "" or starting with "/"
    query: str  # without the "?"

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}" if self.port is not None else host

    @property
    def origin(self) -> str:
        """``scheme://host[:port]``: where requests go, and nothing else."""
        return f"{self.scheme}://{self.netloc}"

    @property
    def url(self) -> str:
        """The URL rebuilt from its parts (the fragment, never sent, is left out)."""
        return f"{self.origin}{self.path}{f'?{self.query}' if self.query else ''}"

    @property
    def loopback(self) -> bool:
        return self.host in LOOPBACK_HOSTS


def parse_web_address(value: str, *, default_scheme: str = "", origin_only: bool = False) -> WebAddress:
    """The parts of an http(s) URL, or AddressProblem saying what is wrong.

    ``default_scheme`` is put in front of a value without ``scheme://`` (``contoso.crm.dynamics.com``).
    ``origin_only``: the caller keeps only ``scheme://host[:port]``, so what follows the authority (a path
    copied from the browser) is only checked for what would make the parsers disagree on the authority.
    """
    if not value:
        raise AddressProblem("is empty")
    if any(not "!" <= char <= "~" for char in value):
        raise AddressProblem(
            "contains a space, a line break or a character outside ASCII (use a host's xn-- form); copy it again"
        )
    if "\\" in value:
        raise AddressProblem("contains a backslash (\\), which HTTP clients read differently; remove it")
    scheme_match = _SCHEME.match(value)
    if not scheme_match:
        if not default_scheme:
            raise AddressProblem("does not start with https://")
        value = f"{default_scheme}://{value}"
        scheme_match = _SCHEME.match(value)
        assert scheme_match is not None
    scheme = scheme_match.group(1).lower()
    if scheme not in ("https", "http"):
        raise AddressProblem(f"has the scheme {scheme_match.group(1)[:10]!r}; use https://")
    rest = value[scheme_match.end() :]
    authority_end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    host, port = _authority(rest[:authority_end])
    path, _, query = rest[authority_end:].partition("#")[0].partition("?")
    if origin_only:
        return WebAddress(scheme, host, port, "", "")
    if not _PATH.fullmatch(path) or not _QUERY.fullmatch(query) or not _QUERY.fullmatch(rest.partition("#")[2]):
        raise AddressProblem(
            "has characters that must be %-encoded, or a % not followed by two hex digits; copy the URL again"
        )
    if any(segment in (".", "..") for segment in path.split("/")):
        raise AddressProblem("has a . or .. segment in its path; copy the URL again")
    return WebAddress(scheme, host, port, _upper_escapes(path), _upper_escapes(query))


def _authority(authority: str) -> tuple[str, int | None]:
    if "@" in authority:
        raise AddressProblem(
            "holds a user name or password (text before @ in the host part), which would be sent elsewhere; "
            "remove everything between :// and @"
        )
    host, port_text = authority, None
    ipv6 = _IPV6.match(authority)
    if ipv6:
        host, after = ipv6.group(1), authority[ipv6.end() :]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise AddressProblem("has an invalid IPv6 address") from None
        if after:
            if not after.startswith(":"):
                raise AddressProblem("has text after its IPv6 address")
            port_text = after[1:]
    else:
        host, colon, port_text = authority.partition(":")
        port_text = port_text if colon else None
        if not host:
            raise AddressProblem("has no host name")
        if not _HOST_NAME.fullmatch(host):
            raise AddressProblem("has a host name with characters other than letters, digits, hyphens and dots")
    port = None
    if port_text is not None:
        if not _PORT.fullmatch(port_text) or not 1 <= int(port_text) <= 65535:
            raise AddressProblem("has an invalid port (a number from 1 to 65535 after the host's colon)")
        port = int(port_text)
    return host.lower(), port


def _upper_escapes(text: str) -> str:
    """``%2f`` → ``%2F``, as urllib3 sends it."""
    return _ESCAPE.sub(lambda match: match.group(0).upper(), text)
