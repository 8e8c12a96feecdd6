"""Posting a card to a Teams channel through its Workflows webhook (REFERENCE §8.3, §9.1).

A channel gets at most one card per lead: a card is posted again only when the answer says for certain that
nothing was posted. Workflows answers 202 once the flow run is queued (§9.1); what each other answer means:

- 429, and 503 with Retry-After: refused before acting on it (throttled; "come back later"). Retried inside the
  call by the session's rules, honouring Retry-After; still refused afterwards: TeamsUnavailable, and the queue
  delivers the lead again later. 408 (the request never fully arrived) is TeamsUnavailable too;
- a connection that never opened (refused, name not found, connect time-out): retried the same way;
- unknown outcome — a request that went out and got no answer in time (read time-out, connection dropped), and
  500, 502, 504, or 503 without Retry-After. 502 Bad Gateway and 504 Gateway Timeout come from a hop in front of
  the trigger that gave up on it (RFC 9110 §15.6.3, §15.6.5), possibly after the run was queued; a 500 or a bare
  503 may come from such a hop as well. Microsoft's Retry pattern (Azure Architecture Center) warns that retrying
  an operation that is not idempotent can repeat its effect, and a Workflows post has no idempotency key: a
  retry could put a second card in the channel. So these are NOT retried: ``post`` returns False (unconfirmed),
  the caller records the card as sent, and a warning is logged. The price, accepted and documented in README: a
  card that was in fact never posted stays missing (mail and Dynamics are unaffected);
- 3xx: the URL sends the card elsewhere, which is not followed (leads.adapters.webapi): TeamsRefused;
- other 4xx (404: the workflow was deleted; 401: the URL's signature is wrong; 400: the card was refused) cannot
  be helped by retrying: TeamsRefused, with advice.

Errors hold the webhook's host only (``masked``) and the error code Workflows sent, never its message (which can
quote the card, and so the lead) nor requests' exceptions (which quote the URL, and so its signature).
"""

from __future__ import annotations

import logging
from typing import Any

import requests

from leads.adapters.webapi import TIMEOUT, new_session, odata_error, redirected, send_retry_rules, sent_without_answer
from leads.core.errors import TeamsRefused, TeamsUnavailable
from leads.core.service_text import service_code
from leads.core.webhooks import HOW_TO, masked

log = logging.getLogger(__name__)

# Retried inside the call: urllib3 also retries 503 (and 413) when they carry Retry-After (Retry.is_retry).
CERTAINLY_NOT_POSTED = (429,)


def teams_session() -> requests.Session:
    """The session for posting cards: only answers that certainly mean "not posted" are retried (see above)."""
    return new_session(send_retry_rules(CERTAINLY_NOT_POSTED))


def certainly_not_posted(response: requests.Response) -> bool:
    """Throttled, "come back later" (503 with Retry-After), or the request never fully arrived (408)."""
    status = response.status_code
    return status in (408, 429) or (status == 503 and "Retry-After" in response.headers)


class TeamsWebhook:
    """One channel's webhook. The URL is a secret: errors and logs show ``masked(url)`` only."""

    def __init__(self, url: str, session: requests.Session, timeout: tuple[float, float] = TIMEOUT) -> None:
        self.url = url
        self.session = session
        self.timeout = timeout

    @property
    def where(self) -> str:
        return masked(self.url)

    def post(self, message: dict[str, Any]) -> bool:
        """Post the message; True once Workflows accepted it, False when it may have (unknown outcome, see above)."""
        failure = None
        try:
            response = self.session.post(self.url, json=message, timeout=self.timeout)
        except requests.RequestException as exc:
            if sent_without_answer(exc):
                log.warning(
                    "Teams webhook %s did not answer in time; the card may have been posted, not sent again",
                    self.where,
                )
                return False
            failure = type(exc).__name__
        if failure is not None:
            # Raised outside the except block, so not even as __context__: requests' messages hold the URL, and so
            # the signature. Only the kind of failure is passed on.
            raise TeamsUnavailable(f"could not reach the Teams webhook {self.where} ({failure})")
        if response.status_code // 100 == 2:
            return True
        if response.status_code >= 500 and not certainly_not_posted(response):
            log.warning(
                "Teams webhook %s answered HTTP %d, which a gateway may send after the card was queued; the card "
                "may have been posted, not sent again",
                self.where,
                response.status_code,
            )
            return False
        raise self._error(response)

    def _error(self, response: requests.Response) -> TeamsUnavailable | TeamsRefused:
        status = response.status_code
        code = service_code(odata_error(response)[0])
        said = f"HTTP {status}{f' {code}' if code else ''}"
        if certainly_not_posted(response):
            return TeamsUnavailable(f"the Teams webhook {self.where} answered {said}, still after retries")
        if redirected(response):
            advice = f"it sends the card elsewhere, which the app does not follow; copy the URL again: {HOW_TO}"
        elif status == 404:
            advice = f"the workflow was deleted or turned off; create it again and update the URL: {HOW_TO}"
        elif status in (401, 403):
            advice = f"the URL's signature is not accepted; copy the URL again: {HOW_TO}"
        else:
            # Workflows' message is left out: it can quote the card, and so the lead.
            advice = "the card was refused"
        return TeamsRefused(
            f"the Teams webhook {self.where} answered {said}: {advice}; `python -m leads replay "
            "--failed` posts the card once it is fixed"
        )
