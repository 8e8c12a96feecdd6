"""Posting a card to a Teams channel through its Workflows webhook (REFERENCE §8.3).

How a failure is decided, so that a card is posted at most once where the outcome is unknown:
- the webhook answers 202 as soon as the flow run is queued; any other answer means no run was queued. 429
  (honouring Retry-After) and 5xx are therefore safe to retry: inside the call a few times (the session's
  retry rules), then TeamsUnavailable, and the queue delivers the lead again later;
- a connection that never opened is safe to retry the same way;
- a request that went out but got no answer in time (read time-out) may have queued the run: it is NOT
  retried. ``post`` returns False (unconfirmed) and the caller records the card as sent, so the channel gets
  it at most once;
- 4xx (404: the workflow was deleted; 401: the URL's signature is wrong; 400: the card was refused) cannot be
  helped by retrying: TeamsRefused, with advice.
"""

from __future__ import annotations

import logging
from typing import Any

import requests

from leads.adapters.webapi import (
    RETRIED_STATUSES,
    TIMEOUT,
    new_session,
    odata_error,
    send_retry_rules,
    sent_without_answer,
    worth_retrying,
)
from leads.core.errors import TeamsRefused, TeamsUnavailable
from leads.core.webhooks import HOW_TO, masked
from leads.core.wording import shorten

log = logging.getLogger(__name__)


def teams_session() -> requests.Session:
    """The session for posting cards: the webhook answers only once a run is queued, so 429 and every 5xx mean
    nothing was posted and are retried; a request that went out unanswered is not (see above)."""
    return new_session(send_retry_rules(RETRIED_STATUSES))


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
        """Post the message; True once Workflows accepted it, False when it may have (no answer in time)."""
        try:
            response = self.session.post(self.url, json=message, timeout=self.timeout)
        except requests.RequestException as exc:
            if not sent_without_answer(exc):
                # requests' messages hold the URL, and so the signature: only the kind of failure is passed on.
                raise TeamsUnavailable(
                    f"could not reach the Teams webhook {self.where} ({type(exc).__name__})"
                ) from None
            log.warning(
                "Teams webhook %s did not answer in time; the card may have been posted, not sent again", self.where
            )
            return False
        if response.status_code // 100 == 2:
            return True
        raise self._error(response)

    def _error(self, response: requests.Response) -> TeamsUnavailable | TeamsRefused:
        status = response.status_code
        code, message = odata_error(response)
        said = f"HTTP {status}{f' {code}' if code else ''}"
        if worth_retrying(status):
            return TeamsUnavailable(f"the Teams webhook {self.where} answered {said}, still after retries")
        if status == 404:
            advice = f"the workflow was deleted or turned off; create it again and update the URL: {HOW_TO}"
        elif status in (401, 403):
            advice = f"the URL's signature is not accepted; copy the URL again: {HOW_TO}"
        else:
            advice = f"the card was refused ({shorten(message, 200)})" if message else "the card was refused"
        return TeamsRefused(
            f"the Teams webhook {self.where} answered {said}: {advice}; `python -m leads replay "
            "--failed` posts the card once it is fixed"
        )
