"""Where the bearer token comes from: explicit, ``MMS_TOKEN``, or azure-identity.

A token is fetched when a request is made and cached in memory only until shortly before
it expires. It is never logged, pickled, stored in state or included in an error message.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

TOKEN_ENV = "MMS_TOKEN"
# Azure AD / ARM scope MMS accepted ("either an Azure Active Directory or Azure Resource
# Manager access token").
ARM_SCOPE = "https://management.azure.com/.default"
# Refresh this long before expiry, so a token never expires mid-request.
REFRESH_MARGIN_SECONDS = 300.0


class CredentialError(Exception):
    """No token could be found; the message lists every way to provide one."""


@dataclass(frozen=True)
class AccessToken:
    """A bearer token and when it expires (seconds since the epoch)."""

    token: str
    expires_on: float

    def __repr__(self) -> str:
        return f"AccessToken(token='***', expires_on={self.expires_on!r})"

    __str__ = __repr__


class TokenCredential(Protocol):
    """Anything that hands out bearer tokens."""

    def get_token(self) -> AccessToken:
        """A token valid for at least a few minutes."""
        ...


class StaticTokenCredential:
    """A fixed token (from config or ``MMS_TOKEN``); it never expires on our side."""

    def __init__(self, token: str) -> None:
        if not token:
            raise CredentialError("the MMS token is empty")
        self._token = token

    def get_token(self) -> AccessToken:
        """The token, valid "forever" as far as this process can tell."""
        return AccessToken(self._token, float("inf"))

    def __repr__(self) -> str:
        return "StaticTokenCredential(token='***')"

    def __reduce__(self) -> Any:
        raise TypeError("credentials are never pickled")


class AzureIdentityCredential:
    """azure-identity's ``DefaultAzureCredential`` for MMS, cached until near expiry."""

    def __init__(self, *, scope: str = ARM_SCOPE, clock: Any = time.time) -> None:
        try:
            from azure.identity import DefaultAzureCredential
        except ImportError:
            raise CredentialError(
                "no MMS token: set mms:token (secret) or MMS_TOKEN, or install azure-identity "
                "(`pip install mms-pulumi[azure]`) and log in (`az login`)"
            ) from None
        self._credential = DefaultAzureCredential()
        self._scope = scope
        self._clock = clock
        self._cached: AccessToken | None = None
        self._lock = threading.Lock()

    def get_token(self) -> AccessToken:
        """A cached token, refreshed when it has less than five minutes left."""
        with self._lock:
            if self._cached is None or needs_refresh(self._cached, self._clock()):
                raw = self._credential.get_token(self._scope)
                self._cached = AccessToken(raw.token, float(raw.expires_on))
            return self._cached

    def __repr__(self) -> str:
        return f"AzureIdentityCredential(scope={self._scope!r})"

    def __reduce__(self) -> Any:
        raise TypeError("credentials are never pickled")


def needs_refresh(token: AccessToken, now: float, margin: float = REFRESH_MARGIN_SECONDS) -> bool:
    """Whether a cached token is too close to expiry to use."""
    return token.expires_on - margin <= now


def resolve_credential(explicit: str | TokenCredential | None = None) -> TokenCredential:
    """The credential to use: explicit, then ``MMS_TOKEN``, then azure-identity."""
    if isinstance(explicit, str):
        return StaticTokenCredential(explicit)
    if explicit is not None:
        return explicit
    from_env = os.environ.get(TOKEN_ENV)
    if from_env:
        return StaticTokenCredential(from_env)
    return AzureIdentityCredential()
