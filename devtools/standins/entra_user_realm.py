"""User-realm discovery, ``GET /common/userrealm/<user>``, which MSAL calls before a password (ROPC) sign-in, and
the one listener on 127.0.0.1:443 that every stand-in process shares for it (see entra.py for why)."""

from __future__ import annotations

import threading

from .messages import JSON, Request, Response
from .standin import StandIn
from .tls import shared_ca


def realm_username(request: Request) -> str | None:
    """The ``<user>`` of a ``GET /common/userrealm/<user>`` request; None for any other request."""
    segments = request.path.strip("/").split("/")
    if request.method == "GET" and segments[:2] == ["common", "userrealm"] and len(segments) == 3:
        return segments[2]
    return None


def managed_realm(domain: str) -> dict[str, JSON]:
    return {
        "ver": "1.0",
        "account_type": "Managed",
        "domain_name": domain,
        "cloud_instance_name": "microsoftonline.com",
        "cloud_audience_urn": "urn:federation:MicrosoftOnline",
    }


class _UserRealmListener(StandIn):
    """``GET /common/userrealm/<user>`` on 127.0.0.1:443, shared with every other stand-in process."""

    name = "entra-user-realm"

    def __init__(self, port: int) -> None:
        super().__init__(port=port, tls=shared_ca().server_context(), reuse_port=True)

    def handle(self, request: Request) -> Response:
        username = realm_username(request)
        if username is None:
            return Response.json(404, {"error": "not_found", "error_description": request.path})
        return Response.json(200, managed_realm(username.rpartition("@")[2].lower()))


class _SharedUserRealm:
    """Reference-counted owner of the one 127.0.0.1:443 listener."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listener: _UserRealmListener | None = None
        self._members: list[object] = []  # the Entra ID stand-ins served

    def join(self, entra: object, port: int) -> str | None:
        """Serve ``entra``'s users; returns why that is impossible, or None."""
        with self._lock:
            if self._listener is None:
                try:
                    self._listener = _UserRealmListener(port).start()
                except OSError as exc:
                    return (
                        "ROPC user-realm discovery is unavailable: MSAL's acquire_token_by_username_password first "
                        f"calls https://127.0.0.1/common/userrealm/<user> on port 443 (it drops the authority's "
                        f"port), and this process could not listen on 127.0.0.1:{port} ({exc}). Stand-in processes "
                        "share that port (SO_REUSEPORT); stop the other program holding it, or run as root. "
                        "Username/password sign-ins fail with a connection error until then."
                    )
            elif self._listener.port != port:
                return f"the user-realm listener already runs on port {self._listener.port}, not {port}"
            self._members.append(entra)
            return None

    def leave(self, entra: object) -> None:
        with self._lock:
            if entra not in self._members:
                return
            self._members.remove(entra)
            if not self._members and self._listener is not None:
                self._listener.stop()
                self._listener = None


shared_user_realm = _SharedUserRealm()
