"""Addresses: email addresses (parsing the contacts' list, keeping addresses out of error texts), and the loopback
hosts that may be reached over plain http (tests, `make run`). Pure."""

from __future__ import annotations

import re
from email.errors import HeaderParseError
from email.headerregistry import Address

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
# Something shaped like an email address, in text a mail server or Graph sent back.
_ADDRESS = re.compile(r"[^\s'\"<>(),;:\[\]]+@[^\s'\"<>(),;:\[\]]+")


def parse_addresses(value: str) -> tuple[list[str], list[str]]:
    """``a@x; b@y, c@z`` → (valid addresses, invalid entries). Semicolons, commas and spaces all separate."""
    valid: list[str] = []
    invalid: list[str] = []
    for entry in re.split(r"[;,\s]+", value):
        if not entry:
            continue
        if is_email_address(entry):
            if entry.lower() not in (address.lower() for address in valid):
                valid.append(entry)
        else:
            invalid.append(entry)
    return valid, invalid


def is_email_address(value: str) -> bool:
    if not re.fullmatch(r"[^@\s<>(),;:\"\[\]\\]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+", value):
        return False
    try:
        address = Address(addr_spec=value)
    except (HeaderParseError, ValueError, IndexError):
        return False
    return address.addr_spec == value


def without_addresses(text: str) -> str:
    """Server replies quote addresses ("550 5.1.1 <a@b>: user unknown"); keep them out of errors and logs."""
    return _ADDRESS.sub("<address>", text)
