"""The one error family: every failure the app raises says whether trying again later can help.

- ``TryAgainLater``: the service (or another worker) is busy or down; the queue delivers the lead again.
- ``RetryCannotHelp``: a setting, a permission or the lead itself is wrong; a person has to act first.

Each adapter's errors derive from one of the two, so the steps decide with one ``isinstance`` and never
look at status codes or SDK exceptions. The message always says where the failure came from.
"""

from __future__ import annotations


class LeadsError(Exception):
    """Base of every error the app raises on purpose."""

    @property
    def transient(self) -> bool:
        """Whether trying again later can help."""
        return isinstance(self, TryAgainLater)


class TryAgainLater(LeadsError):
    """Transient: throttling, an outage, a time-out, a busy claim. Retrying later is the fix."""


class RetryCannotHelp(LeadsError):
    """Permanent until someone changes something: a setting, a permission, the data."""


# --- storage (table and queue) ----------------------------------------------------------------------


class StorageUnavailable(TryAgainLater):
    """Table or queue storage could not be reached or refused the request for a transient reason."""


class StorageRefused(RetryCannotHelp):
    """The table refused a request for good (400: the entity itself is wrong): a bug of the app's to report, not an
    outage; trying the same request again will not help, a fixed app will."""


class LeadChanged(TryAgainLater):
    """Someone else updated the lead since it was read (the ETag no longer matches): read it again."""


class ClaimBusy(TryAgainLater):
    """Another worker is sending this lead's notifications; the queue delivers the message again later."""


class OutOfTime(TryAgainLater):
    """A delivery used up its time budget (core/deadline.py): what is left is done by a later delivery."""


class PersonBusy(ClaimBusy):
    """Another delivery is deciding whether this lead's person is new or returning (steps/returning.py); the queue
    delivers the message again later."""


class DeliveryFailed(TryAgainLater):
    """What leaves the queue function when a delivery failed: the lead id and what went wrong, with the lead's
    personal data taken out (the Functions host logs it with its traceback), and no cause chained. The queue
    delivers the message again; the poison queue takes over after the last attempt."""


# --- signing in to Entra ID ---------------------------------------------------------------------------


class SignInError(LeadsError):
    """No token. The message starts with where it failed and names the setting to fix."""


class SignInUnavailable(SignInError, TryAgainLater):
    """Entra ID (or the managed identity endpoint) had trouble of its own, or could not be reached."""


class SignInRefused(SignInError, RetryCannotHelp):
    """Entra ID refused the credentials or the configuration (wrong secret, tenant, consent…)."""


# --- Dataverse (Dynamics 365) ---------------------------------------------------------------------------


class DataverseError(LeadsError):
    """Dataverse answered with an error, or not at all (``status`` None)."""

    def __init__(self, status: int | None, code: str, message: str, quoted: tuple[str, ...] = ()) -> None:
        super().__init__(f"{status or 'no answer'} {code}: {message}".strip())
        self.status = status
        self.code = code
        self.message = message
        # The body's columns whose values Dataverse quoted (the values are taken out of ``message``: they can be
        # personal data): how a refusal of "the literal '…'" is traced to its column.
        self.quoted = quoted


class DataverseUnavailable(DataverseError, TryAgainLater):
    """Throttled, a server error, no connection: worth trying again later."""


class DataverseRejected(DataverseError, RetryCannotHelp):
    """A permanent refusal: bad data, a missing privilege, a wrong setting."""


class DuplicateFound(DataverseRejected):
    """A create with duplicate detection on (``MSCRM.SuppressDuplicateDetection: false``) was refused: the
    organisation's duplicate detection rules found a duplicate (``0x80040333``). Nothing was created."""


# --- notification mail ------------------------------------------------------------------------------------


class MailError(LeadsError):
    """A notification could not be sent; the message says why and which setting to fix. Never holds the
    message's body or recipients (personal data, the publisher's addresses)."""


class MailUnavailable(MailError, TryAgainLater):
    """Throttling, an outage, a time-out: the queue delivers the lead again."""


class MailRefused(MailError, RetryCannotHelp):
    """A mail setting is wrong (permission, mailbox, password): a person must fix it first."""


# --- Teams (Workflows webhook) ---------------------------------------------------------------------------


class TeamsError(LeadsError):
    """A card could not be posted to Teams. The message never holds the webhook URL (it is a secret)."""


class TeamsUnavailable(TeamsError, TryAgainLater):
    """Throttled, a server error, no connection: the card was not posted, and trying later is safe."""


class TeamsRefused(TeamsError, RetryCannotHelp):
    """The webhook refused the card: deleted workflow (404), wrong signature (401), a bad card (400)."""


# --- importing leads (Partner Center's export, Microsoft's Azure Table destination) ----------------------------


class ExportUnreadable(RetryCannotHelp):
    """The export cannot be read, or its columns cannot be mapped to a lead's fields: the message names the
    missing fields and the columns found, never a row's content."""


class SourceTableUnavailable(TryAgainLater):
    """Microsoft's Azure Table destination could not be reached, or was busy: the next run reads it again."""


class SourceTableRefused(RetryCannotHelp):
    """The marketplace's table is missing or refused access: a MARKETPLACE_TABLE* setting or a role is wrong."""
