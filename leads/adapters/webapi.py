"""What the Web API adapters (Dataverse, Graph, Teams) share: one requests.Session per process with urllib3's
retry rules (which honour ``Retry-After``) and no redirects, bearer-token auth that takes a fresh token once on
401 and only for the host it was given for, the OData error body, and the one rule for which statuses are
worth retrying.

Redirects: none of Dataverse's Web API, Graph's sendMail/users nor a Workflows trigger answers with one, so a
3xx means the URL setting points somewhere else (a proxy, a sign-in page, a moved environment). Following it
would send the request — a lead's details, a card — to a host no setting names, and before this rule requests'
redirect handling re-ran BearerAuth's 401 hook against the new host, which then got a fresh token. So sessions
follow no redirect: the 3xx comes back to the adapter, which names the setting to check."""

from __future__ import annotations

import logging
import re
from functools import partial
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3 import BaseHTTPResponse
from urllib3.connectionpool import ConnectionPool
from urllib3.exceptions import MaxRetryError, ProtocolError, ReadTimeoutError, ResponseError
from urllib3.util.retry import Retry

from leads.adapters.signin import TokenSource
from leads.adapters.trust import trust_loopback
from leads.core import deadline
from leads.core.wording import shorten

log = logging.getLogger(__name__)

# Waits longer than this are not spent inside one invocation: the response goes back to the caller,
# which lets the queue deliver the message again later.
MAX_RETRY_AFTER_SECONDS = 60
TIMEOUT = (5, 30)  # connect, read (seconds)
RETRIED_STATUSES = (429, 500, 502, 503, 504)


class _WithoutQueries(logging.Filter):
    """urllib3 logs every retry with the request's URL. Its query string can hold a secret (a Teams webhook's
    ``sig=``) or a lead's email (a Dataverse ``$filter``): the path is kept, the query left out."""

    # To the URL's end: the line's end, urllib3's "')" after a URL in a repr, or " HTTP/1.1" in a request line.
    _QUERY = re.compile(r"\?.*?(?=' ?\)| HTTP/|$)", re.MULTILINE)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self._QUERY.sub("?…", record.getMessage()), None
        return True


for _logger in ("urllib3.connectionpool", "urllib3.util.retry"):
    logging.getLogger(_logger).addFilter(_WithoutQueries())


def worth_retrying(status: int) -> bool:
    """Throttled or a server error: trying again later may work. Any other 4xx will not change."""
    return status == 429 or status >= 500


def odata_error(response: requests.Response) -> tuple[str, str]:
    """``{"error": {"code": …, "message": …}}`` (Dataverse and Graph alike) → (code, message); anything
    else is summarised by the status line."""
    try:
        error = response.json().get("error", {})
        return str(error.get("code") or ""), shorten(str(error.get("message") or ""), 500)
    except (ValueError, AttributeError):
        return "", shorten(response.reason or f"HTTP {response.status_code}", 200)


def sent_without_answer(error: requests.RequestException) -> bool:
    """The request went out but no answer came (read time-out, connection dropped): the server may have acted on
    it. With ``read=0`` retry rules urllib3 reports these wrapped in MaxRetryError, which requests re-raises as a
    ConnectionError; a connection that never opened is not one of these."""
    if isinstance(error, requests.exceptions.ReadTimeout):
        return True
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(error.args[0] if error.args else None, MaxRetryError) and isinstance(
        reason, ReadTimeoutError | ProtocolError
    )


def _origin(url: str | None) -> tuple[str, str, int | None]:
    parts = urlsplit(url or "")
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port


class BearerAuth(requests.auth.AuthBase):
    """``Authorization: Bearer …`` from the process's token source. A 401 (the token was revoked, or the
    resource wants a newer one) drops the cached tokens and re-sends the request once with a fresh token;
    a second 401 goes back to the caller. Sign-in failures raise SignInError from the request call.

    The fresh token goes only to the scheme, host and port the request was first authorised for: a response
    from anywhere else (after a redirect, should a session follow one) is handed back untouched."""

    def __init__(self, tokens: TokenSource, scope: str) -> None:
        self.tokens = tokens
        self.scope = scope

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.tokens.token(self.scope)}"
        hook = partial(self._retry_on_401, authorised_for=_origin(request.url))
        request.register_hook("response", hook)  # type: ignore[no-untyped-call]
        return request

    def _retry_on_401(
        self, response: requests.Response, authorised_for: tuple[str, str, int | None], **send_options: Any
    ) -> requests.Response:
        if response.status_code != 401 or getattr(response.request, "_fresh_token", False):
            return response
        if _origin(response.request.url) != authorised_for:
            log.warning("a host the request was redirected to answered 401; no token is sent to it")
            return response
        log.info("%s answered 401: getting a fresh token and trying once more", response.url.split("?")[0])
        self.tokens.forget()
        response.close()
        retry = response.request.copy()
        retry.headers["Authorization"] = f"Bearer {self.tokens.token(self.scope)}"
        retry._fresh_token = True  # type: ignore[attr-defined]  # marks the one retry
        again: requests.Response = response.connection.send(retry, **send_options)
        again.history.append(response)
        again.request = retry
        return again


class _Retry(Retry):
    """urllib3's Retry, except that a wait too long for the delivery ends the retries: a Retry-After over
    MAX_RETRY_AFTER_SECONDS, or a wait (back-off or Retry-After) that would pass the delivery's time budget
    (core/deadline.py). The queue then delivers the lead again later."""

    def increment(  # type: ignore[override]  # same parameters, passed through
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> Retry:
        wait = self.get_retry_after(response) if response is not None else None
        if wait is not None and wait > MAX_RETRY_AFTER_SECONDS:
            raise MaxRetryError(_pool, url or "", ResponseError(f"Retry-After {wait:.0f}s"))  # type: ignore[arg-type]
        retry = super().increment(method, url, response, error, _pool, _stacktrace)
        if not deadline.allows_wait(max(wait or 0.0, retry.get_backoff_time())):
            raise MaxRetryError(_pool, url or "", ResponseError("out of the delivery's time"))  # type: ignore[arg-type]
        return retry


def retry_rules(total: int = 4, backoff_factor: float = 0.5) -> Retry:
    """Connection errors, time-outs, 429 and 5xx are retried with exponential back-off (Retry-After
    when the server gives one); the last response is returned rather than raised. Every method is
    retried: our writes are idempotent (Dataverse create-if-absent, mail claimed before sending)."""
    return _Retry(
        total=total,
        backoff_factor=backoff_factor,
        backoff_max=30,
        status_forcelist=RETRIED_STATUSES,
        allowed_methods=None,
        respect_retry_after_header=True,
        raise_on_status=False,
    )


def send_retry_rules(statuses: tuple[int, ...] = (429, 503)) -> Retry:
    """For sending a message, where a request that went through must not be repeated: only what the server refused
    before acting on it (``statuses``, and 503 with Retry-After, which urllib3 retries by itself) and connections
    that never opened are retried here. Mail: 429 and 503; after a time-out or another 5xx it is unknown whether
    the mail went out, an immediate retry could send it twice, so that goes back to the queue, which tries later
    (the contacts may then get it twice rather than never). Teams: 429 only (leads.adapters.teams says why)."""
    return _Retry(
        total=4,
        read=0,
        other=0,
        backoff_factor=0.5,
        backoff_max=30,
        status_forcelist=statuses,
        allowed_methods=None,
        respect_retry_after_header=True,
        raise_on_status=False,
    )


class _NoRedirects(requests.Session):
    """A session that follows no redirect, whatever a call's ``allow_redirects`` says (see the module's
    docstring): the 3xx response itself is returned."""

    def get_redirect_target(self, resp: requests.Response) -> None:
        return None

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        """A request's time-outs never reach past the delivery's time budget (core/deadline.py)."""
        timeout = kwargs.get("timeout")
        if isinstance(timeout, tuple):
            kwargs["timeout"] = tuple(deadline.capped(part) for part in timeout)
        elif isinstance(timeout, int | float):
            kwargs["timeout"] = deadline.capped(timeout)
        return super().send(request, **kwargs)


def new_session(retries: Retry | None = None) -> requests.Session:
    session = _NoRedirects()
    adapter = HTTPAdapter(max_retries=retries or retry_rules(), pool_maxsize=16)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return trust_loopback(session)


def redirected(response: requests.Response) -> bool:
    """A 3xx: the service sent the request elsewhere (not followed; the caller names the setting to check)."""
    return 300 <= response.status_code < 400
