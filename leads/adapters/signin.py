"""Signing in to Entra ID: one token source per process, holding its token cache.

``DYNAMICS_AUTH`` chooses how:
- ``client_secret``: an app registration, through MSAL's ConfidentialClientApplication;
- ``username_password``: an Office 365 user, through MSAL's username/password (ROPC) flow, which does
  not work with MFA and stops when the password expires: prefer an app registration;
- ``managed_identity``: the Function App's managed identity, through azure-identity.
"""

from __future__ import annotations

import re
import threading
import warnings
from collections.abc import Callable
from typing import Any, Protocol

from leads.adapters.trust import msal_http_options
from leads.core.errors import SignInError, SignInRefused, SignInUnavailable
from leads.core.wording import shorten
from leads.settings import DEFAULT_AUTHORITY_HOST, DynamicsSettings

# Entra ID error codes → what to change. The codes are documented at
# https://learn.microsoft.com/entra/identity-platform/reference-error-codes
_ADVICE = {
    "AADSTS90002": "AZURE_TENANT_ID names no tenant: copy the Directory (tenant) ID from the app registration's "
    "Overview page",
    "AADSTS900023": "AZURE_TENANT_ID is malformed: copy the Directory (tenant) ID from the app registration",
    "AADSTS700016": "AZURE_CLIENT_ID is not an app registration in this tenant: check AZURE_CLIENT_ID and "
    "AZURE_TENANT_ID",
    "AADSTS7000215": "AZURE_CLIENT_SECRET is wrong: use the secret's Value (not its Secret ID) from "
    "Certificates & secrets",
    "AADSTS7000222": "AZURE_CLIENT_SECRET has expired: create a new client secret and update the setting",
    "AADSTS50126": "DYNAMICS_USERNAME or DYNAMICS_PASSWORD is wrong",
    "AADSTS50055": "DYNAMICS_PASSWORD has expired (Office 365 passwords expire): set a new password and "
    "update the setting, or switch to DYNAMICS_AUTH=client_secret",
    "AADSTS50076": "this user must use multi-factor authentication, which DYNAMICS_AUTH=username_password "
    "cannot do: use DYNAMICS_AUTH=client_secret",
    "AADSTS50079": "this user must register for multi-factor authentication, which DYNAMICS_AUTH="
    "username_password cannot do: use DYNAMICS_AUTH=client_secret",
    "AADSTS65001": "the app registration lacks admin consent for Dynamics CRM user_impersonation: grant it in "
    "API permissions",
    "AADSTS500011": "Entra ID knows no Dynamics 365 at DYNAMICS_URL in this tenant: check DYNAMICS_URL and "
    "AZURE_TENANT_ID",
    "AADSTS7000218": "the app registration is not a public client: enable 'Allow public client flows' for "
    "DYNAMICS_AUTH=username_password",
}


# OAuth error codes that mean the service, not a setting, is at fault (RFC 6749 §4.1.2.1).
_TRANSIENT_ERRORS = {"temporarily_unavailable", "server_error"}


class TokenSource(Protocol):
    def token(self, scope: str) -> str:
        """An access token for the scope, from the cache while it is valid."""

    def forget(self) -> None:
        """Drop cached tokens (after a resource answered 401), so the next call asks Entra ID again."""


def advice(result: dict[str, Any]) -> str:
    """An MSAL error result → a sentence naming the setting to fix (Entra's own words as a fallback)."""
    description = str(result.get("error_description") or result.get("error") or "unknown error")
    code = description.split(":", 1)[0].strip()
    if code in _ADVICE:
        return f"{_ADVICE[code]} ({code})"
    return f"Entra ID refused to sign in: {description.splitlines()[0]}"


def _authority_advice(error: ValueError, authority: str) -> SignInRefused:
    """MSAL's ValueError about the authority (Entra's answer is in its text) → advice naming the setting."""
    code = re.search(r"AADSTS\d+", str(error))
    if code:
        return SignInRefused(advice({"error_description": f"{code.group()}: {error}"}))
    return SignInRefused(
        f"the Entra ID authority {authority} is not usable ({shorten(str(error).splitlines()[0], 200)}): check "
        "AZURE_TENANT_ID and AZURE_AUTHORITY_HOST"
    )


class _OneSignInAtATime:
    """Invocations that start together all find the token cache empty: each scope gets a lock, so one of
    them signs in and the others take its token from the cache (a burst costs one token request)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scope_locks: dict[str, threading.Lock] = {}

    def _scope_lock(self, scope: str) -> threading.Lock:
        with self._lock:
            return self._scope_locks.setdefault(scope, threading.Lock())


class _MsalTokens(_OneSignInAtATime):
    def __init__(self, settings: DynamicsSettings) -> None:
        super().__init__()
        self.settings = settings
        self._app: Any = None

    @property
    def msal_options(self) -> dict[str, Any]:
        public_cloud = self.settings.authority_host == f"https://{DEFAULT_AUTHORITY_HOST}"
        # Sovereign clouds and local test authorities are not in Microsoft's instance list.
        return {"authority": self.settings.authority, "instance_discovery": public_cloud, **msal_http_options(30)}

    def app(self) -> Any:
        """The MSAL application, created on first use (one per process: it holds the token cache)."""
        with self._lock:
            if self._app is None:
                import msal  # heavy: imported on first use, not at cold start

                try:
                    self._app = self._create(msal)
                except ValueError as exc:  # MSAL checks the authority when the app is created
                    raise _authority_advice(exc, self.settings.authority) from exc
                except Exception as exc:  # the authority's metadata could not be fetched
                    raise SignInUnavailable(
                        f"Entra ID sign-in at {self.settings.authority_host} failed ({_brief(exc)})"
                    ) from exc
            return self._app

    def _create(self, msal: Any) -> Any:
        raise NotImplementedError

    def _result(self, result: dict[str, Any] | None) -> str:
        if result and "access_token" in result:
            token: str = result["access_token"]
            return token
        result = result or {}
        failure = SignInUnavailable if result.get("error") in _TRANSIENT_ERRORS else SignInRefused
        raise failure(advice(result))

    def _acquire(self, acquire: Callable[[], dict[str, Any] | None]) -> str:
        """Run an MSAL call. MSAL raises (rather than returns an error) when Entra ID answers 5xx or cannot be
        reached: that becomes SignInUnavailable saying it was the sign-in, not the service signed in to."""
        try:
            result = acquire()
        except SignInError:
            raise
        except Exception as exc:
            raise SignInUnavailable(
                f"Entra ID sign-in at {self.settings.authority_host} failed ({_brief(exc)})"
            ) from exc
        return self._result(result)


class ClientSecretTokens(_MsalTokens):
    def _create(self, msal: Any) -> Any:
        return msal.ConfidentialClientApplication(
            self.settings.client_id, client_credential=self.settings.client_secret, **self.msal_options
        )

    def token(self, scope: str) -> str:
        # MSAL answers from its cache first (since 1.23) and asks Entra ID only when the token nears expiry.
        app = self.app()
        with self._scope_lock(scope):
            return self._acquire(lambda: app.acquire_token_for_client(scopes=[scope]))

    def forget(self) -> None:
        self.app().remove_tokens_for_client()


class UsernamePasswordTokens(_MsalTokens):
    def _create(self, msal: Any) -> Any:
        return msal.PublicClientApplication(self.settings.client_id, **self.msal_options)

    def token(self, scope: str) -> str:
        app = self.app()
        with self._scope_lock(scope):
            # The password flow never reads the cache itself: look there first, or every lead signs in again.
            for account in app.get_accounts(username=self.settings.username):
                cached = app.acquire_token_silent([scope], account=account)
                if cached and "access_token" in cached:
                    return self._result(cached)
            return self._acquire(lambda: self._by_password(app, scope))

    def _by_password(self, app: Any, scope: str) -> dict[str, Any] | None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # MSAL discourages ROPC; the README says why
            result: dict[str, Any] | None = app.acquire_token_by_username_password(
                self.settings.username, self.settings.password, scopes=[scope]
            )
        return result

    def forget(self) -> None:
        app = self.app()
        for account in app.get_accounts():
            app.remove_account(account)


class ManagedIdentityTokens(_OneSignInAtATime):
    """The Function App's managed identity (``AZURE_CLIENT_ID`` picks a user-assigned one). Uses
    ManagedIdentityCredential explicitly: DefaultAzureCredential would try AZURE_CLIENT_SECRET first."""

    def __init__(self, settings: DynamicsSettings) -> None:
        super().__init__()
        self.client_id = settings.client_id or None
        self._credential: Any = None

    def credential(self) -> Any:
        with self._lock:
            if self._credential is None:
                from azure.identity import ManagedIdentityCredential

                self._credential = ManagedIdentityCredential(client_id=self.client_id)
            return self._credential

    def token(self, scope: str) -> str:
        from azure.core.exceptions import ClientAuthenticationError

        credential = self.credential()
        try:
            with self._scope_lock(scope):
                # azure-identity caches the token until shortly before it expires.
                token: str = credential.get_token(scope).token
        except ClientAuthenticationError as exc:
            # The endpoint's answers do not tell a missing identity from a hiccup: let the queue try again.
            raise SignInUnavailable(
                f"the managed identity could not get a token ({exc.message.splitlines()[0]}); check that the "
                "Function App has the identity and, for a user-assigned one, that AZURE_CLIENT_ID is its client id"
            ) from exc
        except Exception as exc:  # the endpoint could not be reached
            raise SignInUnavailable(f"the managed identity endpoint did not answer ({_brief(exc)})") from exc
        return token

    def forget(self) -> None:
        with self._lock:
            self._credential = None


def _brief(exc: BaseException) -> str:
    """The exception's kind and first line: MSAL's ``MsalServiceError: HTTP Error: 503``, say."""
    first_line = shorten(str(exc).splitlines()[0], 200) if str(exc) else ""
    return f"{type(exc).__name__}: {first_line}" if first_line else type(exc).__name__


def token_source(settings: DynamicsSettings) -> TokenSource:
    if settings.auth == "username_password":
        return UsernamePasswordTokens(settings)
    if settings.auth == "managed_identity":
        return ManagedIdentityTokens(settings)
    return ClientSecretTokens(settings)
