"""Reading settings from the environment: every problem collected, each naming its setting and the fix."""

from __future__ import annotations

import os
from collections.abc import Mapping

from leads.core.errors import RetryCannotHelp

AUTH_MODES = ("client_secret", "username_password", "managed_identity")


class SettingsError(RetryCannotHelp, ValueError):
    """One or more settings are missing or malformed; ``problems`` lists them, each naming its setting."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid settings:\n" + "\n".join(f"  - {problem}" for problem in problems))
        self.problems = problems


class Reader:
    """Reads settings from an environment mapping and collects every problem before raising."""

    def __init__(self, env: Mapping[str, str] | None) -> None:
        self.env = os.environ if env is None else env
        self.problems: list[str] = []

    def text(self, name: str, default: str = "") -> str:
        return (self.env.get(name) or "").strip() or default

    def required(self, name: str, why: str) -> str:
        value = self.text(name)
        if not value:
            self.problem(name, f"is not set; {why}")
        return value

    def flag(self, name: str, default: bool) -> bool:
        value = self.text(name).lower()
        if not value:
            return default
        if value in ("true", "1", "yes", "on"):
            return True
        if value in ("false", "0", "no", "off"):
            return False
        self.problem(name, f"is {value!r}; set it to true or false")
        return default

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        value = self.text(name)
        if not value:
            return default
        try:
            number = int(value)
        except ValueError:
            number = low - 1
        if not low <= number <= high:
            self.problem(name, f"is {value!r}; set it to a whole number from {low} to {high}")
            return default
        return number

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.text(name, default).lower()
        if value not in choices:
            self.problem(name, f"is {value!r}; set it to one of: {', '.join(choices)}")
            return default
        return value

    def problem(self, name: str, message: str) -> None:
        self.problems.append(f"{name} {message}")

    def done(self) -> None:
        if self.problems:
            raise SettingsError(self.problems)


def sign_in_mode(read: Reader) -> str:
    """DYNAMICS_AUTH: how the app signs in to Dynamics, and to Graph for mail."""
    return read.choice("DYNAMICS_AUTH", "client_secret", AUTH_MODES)


def require_sign_in(read: Reader, auth: str, purpose: str = "") -> None:
    """The settings DYNAMICS_AUTH's sign-in needs (Dynamics, and Graph mail, sign in the same way)."""
    mode = f"DYNAMICS_AUTH={auth}{purpose}"
    registration = "the Entra ID app registration's"
    if auth == "client_secret":
        read.required("AZURE_TENANT_ID", f"{mode} needs {registration} directory (tenant) id")
        read.required("AZURE_CLIENT_ID", f"{mode} needs {registration} application (client) id")
        read.required("AZURE_CLIENT_SECRET", f"{mode} needs a client secret of {registration}")
    elif auth == "username_password":
        read.required(
            "AZURE_CLIENT_ID",
            f"{mode} needs the client id of a public client app registration with the Dynamics CRM "
            "user_impersonation permission",
        )
        read.required("DYNAMICS_USERNAME", f"{mode} needs the Office 365 user name")
        read.required("DYNAMICS_PASSWORD", f"{mode} needs the Office 365 password")
