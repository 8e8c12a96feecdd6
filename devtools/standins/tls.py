"""A certificate authority for the HTTPS stand-ins.

MSAL and azure-identity refuse ``http://`` authorities, so the Entra ID stand-in has to speak TLS. Clients trust
it through ``REQUESTS_CA_BUNDLE=<file written by write_ca_pem>``.

The CA is shared by every stand-in process on the machine (kept in ``$STANDINS_CA_DIR``, default
``<tmp>/marketplace-leads-standins-ca``): the ROPC user-realm listener on 127.0.0.1:443 is shared between
processes (see entra.py), so whichever process answers, its certificate must chain to the CA the client trusts.
It is a throwaway CA for loopback servers only; the key stays in a 0700 directory.
"""

from __future__ import annotations

import fcntl
import os
import ssl
import tempfile
import threading
from pathlib import Path

import trustme

SERVER_NAMES = ("127.0.0.1", "localhost")


class TestCA:
    """A CA and a server certificate (valid for 127.0.0.1 and localhost) issued by it."""

    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, ca: trustme.CA | None = None) -> None:
        self._ca = ca or trustme.CA(organization_name="marketplace-leads stand-ins")
        self._server_cert = self._ca.issue_cert(*SERVER_NAMES)

    @classmethod
    def load_or_create(cls, directory: Path) -> TestCA:
        """The CA kept in ``directory``, created there first if needed (safe when processes race)."""
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        cert_file, key_file = directory / "ca.pem", directory / "ca.key"
        with (directory / ".lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (cert_file.exists() and key_file.exists()):
                ca = trustme.CA(organization_name="marketplace-leads stand-ins")
                key = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(key, "wb") as handle:
                    handle.write(ca.private_key_pem.bytes())
                cert_file.write_bytes(ca.cert_pem.bytes())
            return cls(trustme.CA.from_pem(cert_file.read_bytes(), key_file.read_bytes()))

    @property
    def ca_pem(self) -> bytes:
        return self._ca.cert_pem.bytes()

    def write_ca_pem(self, path: str | Path) -> Path:
        """Write the CA certificate (PEM) where clients can point ``REQUESTS_CA_BUNDLE``."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(self.ca_pem)
        return target

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._server_cert.configure_cert(context)
        return context

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self._ca.configure_trust(context)
        return context


_shared: TestCA | None = None
_shared_lock = threading.Lock()


def shared_ca() -> TestCA:
    """The machine-wide stand-in CA (loaded once per process)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            default = Path(tempfile.gettempdir()) / "marketplace-leads-standins-ca"
            _shared = TestCA.load_or_create(Path(os.environ.get("STANDINS_CA_DIR") or default))
        return _shared
