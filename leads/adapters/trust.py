"""Which certificate authorities outgoing HTTPS trusts, and one addition for services on this machine.

Everything trusts what requests trusts: ``REQUESTS_CA_BUNDLE`` (or ``CURL_CA_BUNDLE``) when set — a corporate
proxy's CA is often installed that way, machine-wide — else certifi's bundle. ``LOOPBACK_CA_FILE`` names one more
CA (`make run` sets it to its stand-ins' test CA) that is trusted *in addition*, and only for HTTPS to 127.0.0.1,
localhost and ::1: never instead of the configured bundle, and never for another host. Without the setting (in
Azure) nothing here changes how a session verifies.

Why an adapter: requests lets ``REQUESTS_CA_BUNDLE`` override a session's ``verify=``, so a CA cannot be added
through ``verify``; an HTTPAdapter may choose the SSL context per connection pool (requests documents
``build_connection_pool_key_attributes`` for this), after the environment has been merged.
"""

from __future__ import annotations

import logging
import os
import ssl
import threading
from typing import TYPE_CHECKING, Any

import requests
from requests.adapters import HTTPAdapter
from requests.utils import DEFAULT_CA_BUNDLE_PATH

if TYPE_CHECKING:
    from requests.adapters import _HostParams, _PoolKwargs

log = logging.getLogger(__name__)

SETTING = "LOOPBACK_CA_FILE"
LOOPBACK_PREFIXES = tuple(
    f"https://{host}{end}" for host in ("127.0.0.1", "localhost", "[::1]") for end in (":", "/")
)  # the separator keeps https://127.0.0.10… and https://localhost.example… out


def loopback_ca_file(env: dict[str, str] | None = None) -> str:
    return ((os.environ if env is None else env).get(SETTING) or "").strip()


class LoopbackTrust(HTTPAdapter):
    """An adapter for the loopback prefixes: the bundle the request would verify with, plus ``ca_file``."""

    def __init__(self, ca_file: str, **options: Any) -> None:
        super().__init__(**options)
        self.ca_file = ca_file
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._lock = threading.Lock()

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: bool | str, cert: str | tuple[str, str] | None = None
    ) -> tuple[_HostParams, _PoolKwargs]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        if verify is not False and host_params["scheme"] == "https":
            pool_kwargs["ssl_context"] = self._context(verify)
            pool_kwargs.pop("ca_certs", None)
            pool_kwargs.pop("ca_cert_dir", None)
        return host_params, pool_kwargs

    def cert_verify(self, conn: Any, url: str, verify: bool | str, cert: Any) -> None:
        super().cert_verify(conn, url, verify, cert)  # type: ignore[no-untyped-call]
        conn.ca_certs = conn.ca_cert_dir = None  # the context above holds both the bundle and the loopback CA

    def _context(self, verify: bool | str) -> ssl.SSLContext:
        """The configured bundle (a file or a folder, as requests accepts) and the loopback CA, in one context."""
        base = DEFAULT_CA_BUNDLE_PATH if verify is True or not verify else verify
        with self._lock:
            if base not in self._contexts:
                in_folder = os.path.isdir(base)
                context = ssl.create_default_context(
                    cafile=None if in_folder else base, capath=base if in_folder else None
                )
                try:
                    context.load_verify_locations(cafile=self.ca_file)
                except (OSError, ssl.SSLError) as exc:
                    log.warning("%s=%s cannot be read (%s): only the usual CA bundle is trusted", SETTING, self.ca_file,
                                type(exc).__name__)  # fmt: skip
                self._contexts[base] = context
            return self._contexts[base]


def trust_loopback(session: requests.Session, env: dict[str, str] | None = None) -> requests.Session:
    """Mount LoopbackTrust for the loopback prefixes when LOOPBACK_CA_FILE is set (with the session's own retry
    rules); the session unchanged otherwise."""
    ca_file = loopback_ca_file(env)
    if ca_file:
        retries = getattr(session.get_adapter("https://"), "max_retries", 0)
        adapter = LoopbackTrust(ca_file, max_retries=retries)
        for prefix in LOOPBACK_PREFIXES:
            session.mount(prefix, adapter)
    return session


def msal_http_options(timeout: float) -> dict[str, Any]:
    """MSAL's HTTP options: its own session (``timeout``) without a loopback CA, as in Azure; with one, a session
    that also trusts it for loopback (the Entra ID stand-in), built as MSAL builds its own (the timeout on every
    request, one retry on a connection error)."""
    if not loopback_ca_file():
        return {"timeout": timeout}
    session = _TimedSession(timeout)
    adapter = HTTPAdapter(max_retries=1)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return {"http_client": trust_loopback(session)}


class _TimedSession(requests.Session):
    """A session whose requests time out (requests has no session-wide timeout; MSAL patches its own the same way)."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)
