"""SMTP mail catcher on aiosmtpd: records messages, optional AUTH and STARTTLS (test CA), scripted 4xx/5xx replies.

An optional HTTP control server (``/_standin/messages``, ``/_standin/faults``, ``/_standin/reset``) lets another
process inspect and drive it.
"""

from __future__ import annotations

import email
import email.policy
import hmac
import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from .base import JSON, Listener, Request, Response, StandIn, Waitable, require_loopback
from .tls import shared_ca

# aiosmtpd logs raw AUTH exchanges at DEBUG, so credentials could reach a log; its WARNINGs are only a
# deprecation notice it triggers itself on every login. Errors still show.
logging.getLogger("mail.log").setLevel(logging.ERROR)

STAGES = ("MAIL", "RCPT", "DATA")
DEFAULT_REPLIES = {4: "451 4.3.0 Temporary server error. Please try again later", 5: "554 5.6.0 Transaction failed"}


@dataclass(frozen=True)
class ReceivedMail:
    time: float
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: Message = field(repr=False)
    raw: bytes = field(repr=False)
    auth_user: str | None
    tls: bool

    @property
    def subject(self) -> str:
        return str(self.message.get("Subject", ""))

    @property
    def text(self) -> str:
        """The plain-text body (or HTML when there is no plain part)."""
        if isinstance(self.message, EmailMessage):
            part = self.message.get_body(("plain", "html"))
            if part is not None:
                return str(part.get_content())
        return ""

    def to_json(self) -> dict[str, JSON]:
        return {
            "time": self.time,
            "mail_from": self.mail_from,
            "rcpt_tos": list(self.rcpt_tos),
            "subject": self.subject,
            "from": self.message.get("From"),
            "to": self.message.get("To"),
            "message_id": self.message.get("Message-ID"),
            "text": self.text,
            "auth_user": self.auth_user,
            "tls": self.tls,
        }


@dataclass
class SmtpFault:
    code: int = 451
    message: str | None = None  # full reply text after the code; a default suits the code's class
    times: int = 1
    stage: str = "DATA"

    def reply(self) -> str:
        if self.message:
            return f"{self.code} {self.message}"
        default = DEFAULT_REPLIES[5 if self.code >= 500 else 4]
        return f"{self.code} {default.split(' ', 1)[1]}"


def free_port(host: str = "127.0.0.1") -> int:
    # aiosmtpd's Controller connects to its own port once started, so it cannot take port 0 itself.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class SmtpStandIn(Waitable):
    name = "smtp"

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        control_port: int | None = None,
    ) -> None:
        """``username``/``password`` make AUTH required; ``starttls`` offers STARTTLS with the test CA (and then
        AUTH is only accepted after it, as real submission servers do). ``control_port`` (0: any) starts the
        HTTP control server."""
        require_loopback(host)
        self.host = host
        self.port = port or free_port(host)
        self.username = username
        self._password = password
        self.starttls = starttls
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._messages: list[ReceivedMail] = []
        self._faults: list[SmtpFault] = []
        self._listeners: list[Listener] = []
        self._controller: Controller | None = None
        self.control = _SmtpControl(self, host=host, port=control_port) if control_port is not None else None

    def start(self) -> Self:
        if self._controller is not None:
            return self
        options: dict[str, Any] = {"server_hostname": "standin.smtp.local"}
        if self.username is not None:
            # AUTH is required by handle_MAIL rather than aiosmtpd's auth_required, which warns on every
            # connection when TLS is off (the stand-in's default, like SMTP_STARTTLS=false).
            options.update(authenticator=self._authenticate, auth_require_tls=self.starttls)
        if self.starttls:
            options["tls_context"] = shared_ca().server_context()
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port, **options)
        self._controller.start()
        if self.control is not None:
            self.control.start()
        return self

    def stop(self) -> None:
        if self.control is not None:
            self.control.stop()
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- test API --------------------------------------------------------------------------------

    @property
    def messages(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self._messages)

    def fail_next(self, code: int = 451, message: str | None = None, *, times: int = 1, stage: str = "DATA") -> None:
        """Answer the next ``times`` messages with ``code`` at ``stage`` (MAIL, RCPT or DATA)."""
        if stage not in STAGES or not 400 <= code <= 599 or times < 1:
            raise ValueError("stage must be MAIL, RCPT or DATA, code 400-599, times >= 1")
        with self._lock:
            self._faults.append(SmtpFault(code, message, times, stage))

    def reset(self) -> None:
        with self._changed:
            self._messages.clear()
            self._faults.clear()
            self._changed.notify_all()

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    # --- called by the aiosmtpd handler ------------------------------------------------------------

    def take_fault(self, stage: str) -> str | None:
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.stage == stage:
                    fault.times -= 1
                    if fault.times == 0:
                        del self._faults[index]
                    return fault.reply()
        return None

    def store(self, session: Session, envelope: Envelope) -> int:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        mail = ReceivedMail(
            time=time.time(),
            mail_from=envelope.mail_from or "",
            rcpt_tos=tuple(envelope.rcpt_tos),
            message=email.message_from_bytes(raw, policy=email.policy.default),
            raw=raw,
            auth_user=session.auth_data if isinstance(session.auth_data, str) else None,
            tls=session.ssl is not None,
        )
        with self._changed:
            self._messages.append(mail)
            number = len(self._messages)
            self._changed.notify_all()
        for listener in list(self._listeners):
            listener(f"smtp: message #{number} accepted ({len(mail.rcpt_tos)} recipients)")
        return number

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword) or self.username is None or self._password is None:
            return AuthResult(success=False, handled=False)
        ok = hmac.compare_digest(auth_data.login, self.username.encode()) and hmac.compare_digest(
            auth_data.password, self._password.encode()
        )
        return AuthResult(success=ok, handled=False, auth_data=self.username if ok else None)


class _Handler:
    """aiosmtpd hooks: scripted faults first, then the normal behaviour."""

    def __init__(self, owner: SmtpStandIn) -> None:
        self.owner = owner

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        if self.owner.username is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        if reply := self.owner.take_fault("MAIL"):
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if reply := self.owner.take_fault("RCPT"):
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if reply := self.owner.take_fault("DATA"):
            return reply
        number = self.owner.store(session, envelope)
        return f"250 2.0.0 OK queued as standin-{number}"


class _SmtpControl(StandIn):
    """HTTP control API of the mail catcher (no service endpoints of its own)."""

    name = "smtp-control"

    def __init__(self, smtp: SmtpStandIn, *, host: str, port: int) -> None:
        super().__init__(host=host, port=port)
        self._smtp = smtp

    def control(self, request: Request, action: str) -> Response | None:
        if (request.method, action) == ("GET", "messages"):
            return Response.json(200, {"messages": [mail.to_json() for mail in self._smtp.messages]})
        if (request.method, action) == ("POST", "faults"):
            data = request.json()
            self._smtp.fail_next(
                int(data.get("code", 451)), data.get("message"), times=int(data.get("times", 1)),
                stage=str(data.get("stage", "DATA")),
            )  # fmt: skip
            return Response(204)
        if (request.method, action) == ("POST", "reset"):
            self._smtp.reset()
            return Response(204)
        return None
