"""Email addresses: parsing the contacts' list, and keeping addresses out of error texts. Pure."""

from __future__ import annotations

import re
from email.errors import HeaderParseError
from email.headerregistry import Address

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
