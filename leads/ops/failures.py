"""What a command answers when it cannot do its work: a sentence saying what went wrong and what to do, and the exit
code (EXIT_CODES, shown by every command's --help and in the README). Never a traceback."""

from __future__ import annotations

from leads.core.errors import ExportUnreadable, LeadsError, RetryCannotHelp, StorageUnavailable, TryAgainLater
from leads.settings import SettingsError

OK = 0  # done, and nothing needs attention
ATTENTION = 1  # done, but something needs attention (a failed check, an unknown lead, unusable rows…)
UNUSABLE = 2  # nothing done: the command line, a settings file or an input file is wrong
UNREACHABLE = 3  # nothing (more) done: storage or a service could not be reached; run it again later
INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT
CLOSED_PIPE = 141  # the reader of the output went away (`status --json | head`), as shells report SIGPIPE

EXIT_CODES = """exit codes:
  0    done, and nothing needs your attention
  1    done, but something does: a check failed, a lead was not found or failed, rows were unusable
  2    nothing was done: the command line, a settings file or an input file is wrong (the message says which)
  3    nothing (more) was done: storage or a service could not be reached; run the command again later
  130  interrupted (Ctrl-C); 141: whatever read the output stopped reading (e.g. `| head`)"""

STORAGE_ADVICE = (
    "check AzureWebJobsStorage and that the storage account, or Azurite, is up (`make run` starts Azurite); with "
    "the AzureWebJobsStorage__*ServiceUri settings, sign in with `az login` as someone who holds Storage Table and "
    "Queue Data Contributor on the account"
)


def storage_unreachable(error: StorageUnavailable) -> str:
    """The words for storage that could not be reached (or refused us): which store, and where to look."""
    return f"storage could not be reached ({error}): {STORAGE_ADVICE}"


def in_words(error: BaseException) -> tuple[str, int]:
    """The message and exit code for an error that ended a command."""
    if isinstance(error, SettingsError):
        return str(error), UNUSABLE
    if isinstance(error, StorageUnavailable):
        return f"{storage_unreachable(error)}. Nothing more was done.", UNREACHABLE
    if isinstance(error, ExportUnreadable):
        return f"cannot import: {error}", UNUSABLE
    if isinstance(error, TryAgainLater):
        return f"{error}. Nothing more was done: run the command again later.", UNREACHABLE
    if isinstance(error, RetryCannotHelp | LeadsError):
        return str(error), ATTENTION
    if isinstance(error, OSError):
        where = f"{error.filename}: " if error.filename else ""
        return f"{where}{error.strerror or type(error).__name__}", UNUSABLE
    # Only the kind: an unexpected error's text may quote a secret (a webhook URL) or a lead's contact details.
    return (
        f"unexpected error ({type(error).__name__}). This is a bug in marketplace-leads: please report it with "
        "the command you ran.",
        ATTENTION,
    )
