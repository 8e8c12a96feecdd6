"""Teams Workflows webhook URLs: which hosts they live on, and how to show one without its secret. Pure.

The URL carries a signature (``sig=``): anyone holding it can post to the channel, so it is a secret. It is
never logged or printed whole: ``masked()`` shows where it points without the signature. It is read as the
HTTP client reads it (leads.core.urls) and used rebuilt from those parts, so the host checked here is the
host the card goes to.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from leads.core.urls import AddressProblem, WebAddress, parse_web_address

# Where Teams Workflows webhooks live. Since 2025 Teams hands out *.environment.api.powerplatform.com URLs;
# flows created earlier have *.logic.azure.com URLs, which Microsoft stopped serving on 2025-11-30.
CURRENT_HOST_SUFFIX = ".environment.api.powerplatform.com"
LEGACY_HOST_SUFFIX = ".logic.azure.com"
HOST_SUFFIXES = (CURRENT_HOST_SUFFIX, ".powerplatform.com", LEGACY_HOST_SUFFIX)
# Office 365 connectors ("Incoming Webhook"), retired by Microsoft (REFERENCE §8.3, §9.1): <tenant>.webhook.office.com
# URLs, and the older outlook.office.com/webhook/… ones.
CONNECTOR_HOST_SUFFIX = ".webhook.office.com"
CONNECTOR_OUTLOOK_HOSTS = ("outlook.office.com", "outlook.office365.com")
HOW_TO = (
    "in Teams, open the channel's … menu → Workflows → 'Post to a channel when a webhook request is received', "
    "and copy the URL it shows"
)


def masked(url: str) -> str:
    """The webhook without its signature (nor anything before an ``@``): safe to print and log."""
    try:
        return f"{parse_web_address(url, origin_only=True).origin}/…(signature hidden)"
    except AddressProblem:
        return "(not a usable URL)"


def parse_webhook(url: str) -> WebAddress:
    """The webhook's parts, or AddressProblem saying why it cannot be a Teams Workflows webhook URL and how to
    get one. Never quotes the URL (it is a secret)."""
    try:
        address = parse_web_address(url)
    except AddressProblem as exc:
        raise AddressProblem(f"{exc}; {HOW_TO}") from None
    if address.loopback:
        return address  # the local stand-in (make run, tests), over http or https
    if address.scheme != "https":
        raise AddressProblem(f"is not an https:// URL; {HOW_TO}")
    if _is_connector(address):
        raise AddressProblem(
            "is an Office 365 connector (Incoming Webhook) URL: Microsoft retired connectors, so it no longer "
            f"posts to Teams; create a Workflows webhook instead: {HOW_TO}"
        )
    if not address.host.endswith(HOST_SUFFIXES):
        raise AddressProblem(
            f"points at {address.host}, which is not a Teams Workflows host (*{CURRENT_HOST_SUFFIX}); {HOW_TO}"
        )
    if "/triggers/" not in address.path or not parse_qs(address.query).get("sig"):
        raise AddressProblem(f"is not a complete webhook URL (its path or its sig= signature is missing); {HOW_TO}")
    return address


def webhook_problem(url: str) -> str | None:
    """Why this cannot be a Teams Workflows webhook URL, or None. Never quotes the URL (it is a secret)."""
    try:
        parse_webhook(url)
    except AddressProblem as exc:
        return str(exc)
    return None


def _is_connector(address: WebAddress) -> bool:
    return address.host.endswith(CONNECTOR_HOST_SUFFIX) or (
        address.host in CONNECTOR_OUTLOOK_HOSTS and address.path.lower().startswith("/webhook")
    )
