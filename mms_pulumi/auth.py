"""Where the bearer token comes from: explicit, ``MMS_TOKEN``, or azure-identity.

A token is fetched when a request is made and cached in memory only until shortly before
it expires. It is never logged, pickled, stored in state or included in an error message.
azure-identity is an optional extra (``mms-pulumi[azure]``), imported on first use only.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from mms_pulumi.errors import CredentialError

TOKEN_ENV = "MMS_TOKEN"
# MMS took "either an Azure Active Directory or Azure Resource Manager access token".
ARM_SCOPE = "https://management.azure.com/.default"
# Refresh this long before expiry, so a token never expires in the middle of a request.
REFRESH_MARGIN_SECONDS = 300.0

# Every way to authenticate, named in each error that says none worked.
HOW_TO_AUTHENTICATE = (
    "set the stack secret mms:token (`pulumi config set --secret mms:token …`), or the "
    f"{TOKEN_ENV} environment variable, or install azure-identity "
    "(`pip install 'mms-pulumi[azure]'`) and log in (`az login`)"
)


@dataclass(frozen=True)
class AccessToken:
    """A bearer token and when it expires (seconds since the epoch)."""

    token: str
    expires_on: float

    def __repr__(self) -> str:
        return f"AccessToken(token='***', expires_on={self.expires_on!r})"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("access tokens are never pickled")


@runtime_checkable
class TokenCredential(Protocol):
    """Anything that hands out bearer tokens."""

    def get_token(self) -> AccessToken:
        """A token valid for at least a few minutes."""
        ...


class StaticTokenCredential:
    """A fixed token (from config or ``MMS_TOKEN``); it never expires on our side."""

    def __init__(self, token: str) -> None:
        if not token or not token.strip():
            raise CredentialError(f"the MMS token is empty; {HOW_TO_AUTHENTICATE}")
        self._token = token.strip()

    def get_token(self) -> AccessToken:
        """The token, valid "forever" as far as this process can tell."""
        return AccessToken(self._token, float("inf"))

    def __repr__(self) -> str:
        return "StaticTokenCredential(token='***')"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("credentials are never pickled")


class AzureIdentityCredential:
    """An azure-identity credential for MMS's scope, cached until five minutes before expiry.

    Without an explicit ``credential`` it uses ``DefaultAzureCredential`` (environment,
    managed identity, Azure CLI, …), created on the first token request.
    """

    def __init__(
        self,
        credential: Any = None,
        *,
        scope: str = ARM_SCOPE,
        clock: Callable[[], float] = time.time,
        margin: float = REFRESH_MARGIN_SECONDS,
    ) -> None:
        if credential is None and not azure_identity_installed():
            raise CredentialError(f"no MMS token was given: {HOW_TO_AUTHENTICATE}")
        self._credential = credential
        self._scope = scope
        self._clock = clock
        self._margin = margin
        self._cached: AccessToken | None = None
        # One refresh at a time: the Pulumi plugin calls from several threads at once.
        self._lock = threading.Lock()

    def get_token(self) -> AccessToken:
        """A cached token, refreshed when it has less than the margin left."""
        with self._lock:
            now = self._clock()
            if self._cached is not None and not needs_refresh(self._cached, now, self._margin):
                return self._cached
            try:
                raw = self._azure().get_token(self._scope)
            except CredentialError:
                raise
            except Exception as err:
                if self._cached is not None and self._cached.expires_on > now:
                    # Refreshing early failed, but the current token still works: use it and
                    # try again on the next request rather than failing this one.
                    return self._cached
                raise CredentialError(
                    f"azure-identity could not get a token for {self._scope} "
                    f"({type(err).__name__}); {HOW_TO_AUTHENTICATE}"
                ) from err
            self._cached = AccessToken(str(raw.token), float(raw.expires_on))
            return self._cached

    def _azure(self) -> Any:
        if self._credential is None:
            # Imported here, not at module level: it is slow to import and optional.
            from azure.identity import DefaultAzureCredential

            self._credential = DefaultAzureCredential()
        return self._credential

    def __repr__(self) -> str:
        return f"AzureIdentityCredential(scope={self._scope!r})"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("credentials are never pickled")


def azure_identity_installed() -> bool:
    """Whether the optional azure-identity package can be imported (without importing it)."""
    if "azure.identity" in sys.modules:
        # Already imported, or blocked (a ``None`` entry) as tests do to simulate its absence.
        return sys.modules["azure.identity"] is not None
    try:
        return importlib.util.find_spec("azure.identity") is not None
    except (ImportError, ValueError):
        return False


def needs_refresh(token: AccessToken, now: float, margin: float = REFRESH_MARGIN_SECONDS) -> bool:
    """Whether a cached token is too close to expiry to use."""
    return token.expires_on - margin <= now


def _is_azure_credential(candidate: object) -> bool:
    """An azure-core style credential: ``get_token(*scopes)`` from an ``azure.*`` module."""
    return type(candidate).__module__.startswith("azure.") and hasattr(candidate, "get_token")


def resolve_credential(explicit: str | TokenCredential | Any = None) -> TokenCredential:
    """The credential to use: explicit, then ``MMS_TOKEN``, then azure-identity.

    Raises ``CredentialError`` naming all three ways when none is available.
    """
    if isinstance(explicit, str):
        return StaticTokenCredential(explicit)
    if explicit is not None:
        if _is_azure_credential(explicit):
            return AzureIdentityCredential(explicit)
        if not callable(getattr(explicit, "get_token", None)):
            raise CredentialError(
                f"credential must be a token string or have get_token(), got "
                f"{type(explicit).__name__}; {HOW_TO_AUTHENTICATE}"
            )
        credential: TokenCredential = explicit
        return credential
    from_env = os.environ.get(TOKEN_ENV, "")
    if from_env.strip():
        return StaticTokenCredential(from_env)
    return AzureIdentityCredential()


__all__ = [
    "ARM_SCOPE",
    "REFRESH_MARGIN_SECONDS",
    "TOKEN_ENV",
    "AccessToken",
    "AzureIdentityCredential",
    "CredentialError",
    "StaticTokenCredential",
    "TokenCredential",
    "azure_identity_installed",
    "needs_refresh",
    "resolve_credential",
]
