"""Teams Workflows webhook URLs: which hosts they live on, and how to show one without its secret. Pure.

The URL carries a signature (``sig=``): anyone holding it can post to the channel, so it is a secret. It is
never logged or printed whole: ``masked()`` shows where it points without the signature.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from leads.core.addresses import LOOPBACK_HOSTS

# Where Teams Workflows webhooks live. Since 2025 Teams hands out *.environment.api.powerplatform.com URLs;
# flows created earlier have *.logic.azure.com URLs, which Microsoft stopped serving on 2025-11-30.
CURRENT_HOST_SUFFIX = ".environment.api.powerplatform.com"
LEGACY_HOST_SUFFIX = ".logic.azure.com"
HOST_SUFFIXES = (CURRENT_HOST_SUFFIX, ".powerplatform.com", LEGACY_HOST_SUFFIX)
HOW_TO = (
    "in Teams, open the channel's … menu → Workflows → 'Post to a channel when a webhook request is received', "
    "and copy the URL it shows"
)


def masked(url: str) -> str:
    """The webhook without its signature: safe to print and log."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/…(signature hidden)" if parts.netloc else "(not a URL)"


def webhook_problem(url: str) -> str | None:
    """Why this cannot be a Teams Workflows webhook URL, or None. Never quotes the URL (it is a secret)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host in LOOPBACK_HOSTS and parts.scheme in ("http", "https"):
        return None  # the local stand-in (make run, tests)
    if parts.scheme != "https" or not host:
        return f"is not an https:// URL; {HOW_TO}"
    if not host.endswith(HOST_SUFFIXES):
        return f"points at {host}, which is not a Teams Workflows host (*{CURRENT_HOST_SUFFIX}); {HOW_TO}"
    if "/triggers/" not in parts.path or not parse_qs(parts.query).get("sig"):
        return f"is not a complete webhook URL (its path or its sig= signature is missing); {HOW_TO}"
    return None
