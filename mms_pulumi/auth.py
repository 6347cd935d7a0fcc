"""Where the bearer token comes from: explicit, ``MMS_TOKEN``, or azure-identity.

Credentials follow azure-core's ``TokenCredential`` protocol, ``get_token(*scopes,
**kwargs)`` returning an object with ``token`` and ``expires_on``, so any azure-identity
credential (``DefaultAzureCredential()``, ``ClientSecretCredential(...)``) can be passed
as it is; the client asks for ``MMS_SCOPE``. A token is fetched when a request is made and
cached in memory only until shortly before it expires. It is never logged, pickled, stored
in state or included in an error message. Every failure to get one is a ``CredentialError``
(an ``MmsError``). azure-identity is an optional extra (``mms-pulumi[azure]``), imported on
first use only.
"""

from __future__ import annotations

import importlib.util
import inspect
import math
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from mms_pulumi.errors import CredentialError

TOKEN_ENV = "MMS_TOKEN"
# MMS took "either an Azure Active Directory or Azure Resource Manager access token": the
# client asks for an ARM token.
MMS_SCOPE = "https://management.azure.com/.default"
ARM_SCOPE = MMS_SCOPE  # the name this module gave it first
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


class TokenLike(Protocol):
    """What ``get_token`` returns: azure-core's ``AccessToken`` or this module's."""

    @property
    def token(self) -> str: ...

    @property
    def expires_on(self) -> float: ...


@runtime_checkable
class TokenCredential(Protocol):
    """azure-core's credential protocol: hands out bearer tokens for scopes."""

    def get_token(self, *scopes: str, **kwargs: Any) -> TokenLike:
        """A token for ``scopes``, valid for at least a few minutes."""
        ...


def header_safe_token(token: str, source: str) -> str:
    """The token without surrounding whitespace (a file's newline), or ``CredentialError``
    when what is left cannot go in an ``Authorization`` header: only visible ASCII may
    (RFC 6750 ``b64token``). Never echoes the token: a header error from the HTTP library
    would quote it whole."""
    stripped = token.strip()
    if not stripped.isascii() or not stripped.isprintable() or " " in stripped:
        raise CredentialError(
            f"{source} holds characters an HTTP header cannot carry (whitespace inside it, "
            "control or non-ASCII characters); check how it was copied"
        )
    return stripped


class StaticTokenCredential:
    """A fixed token (from config or ``MMS_TOKEN``); it never expires on our side."""

    def __init__(self, token: str) -> None:
        if not token or not token.strip():
            raise CredentialError(f"the MMS token is empty; {HOW_TO_AUTHENTICATE}")
        self._token = header_safe_token(token, "the MMS token")

    def get_token(self, *_scopes: str, **_kwargs: Any) -> AccessToken:
        """The token, whatever the scope, valid "forever" as far as this process can tell."""
        return AccessToken(self._token, math.inf)

    def __repr__(self) -> str:
        return "StaticTokenCredential(token='***')"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("credentials are never pickled")


class AzureIdentityCredential:
    """Any azure-core credential for MMS's scope, cached until five minutes before expiry.

    Without an explicit ``credential`` it uses azure-identity's ``DefaultAzureCredential``
    (environment, managed identity, Azure CLI, …), created on the first token request.
    Whatever the wrapped credential raises or returns wrong becomes a ``CredentialError``.
    """

    def __init__(
        self,
        credential: Any = None,
        *,
        scope: str = MMS_SCOPE,
        clock: Callable[[], float] = time.time,
        margin: float = REFRESH_MARGIN_SECONDS,
    ) -> None:
        if credential is None and not azure_identity_installed():
            raise CredentialError(f"no MMS token was given: {HOW_TO_AUTHENTICATE}")
        self._credential = credential
        self._scope = scope
        self._clock = clock
        self._margin = margin
        self._cached: dict[tuple[str, ...], AccessToken] = {}
        # One refresh at a time: the Pulumi plugin calls from several threads at once.
        self._lock = threading.Lock()

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        """A cached token for ``scopes`` (default: MMS's), refreshed within the margin."""
        wanted = scopes or (self._scope,)
        with self._lock:
            now = self._clock()
            cached = self._cached.get(wanted)
            if cached is not None and not needs_refresh(cached, now, self._margin):
                return cached
            try:
                fresh = _checked(self._azure().get_token(*wanted, **kwargs))
            except Exception as err:
                if cached is not None and cached.expires_on > now:
                    # Refreshing early failed, but the current token still works: use it and
                    # try again on the next request rather than failing this one.
                    return cached
                if isinstance(err, CredentialError):
                    raise
                raise CredentialError(
                    f"the credential could not get a token for {' '.join(wanted)} "
                    f"({type(err).__name__}); {HOW_TO_AUTHENTICATE}"
                ) from err
            self._cached[wanted] = fresh
            return fresh

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


def _checked(raw: object) -> AccessToken:
    """A token a credential returned, checked against the protocol (never echoing it)."""
    token = getattr(raw, "token", None)
    expires_on = getattr(raw, "expires_on", None)
    if not isinstance(token, str) or not token.strip():
        raise CredentialError(
            f"the credential's get_token() returned {type(raw).__name__} without a non-empty "
            "'token' string; return azure.core.credentials.AccessToken(token, expires_on)"
        )
    if isinstance(expires_on, bool) or not isinstance(expires_on, int | float):
        raise CredentialError(
            f"the credential's get_token() returned {type(raw).__name__} without a numeric "
            "'expires_on' (seconds since the epoch); return "
            "azure.core.credentials.AccessToken(token, expires_on)"
        )
    return AccessToken(
        header_safe_token(token, "the token the credential returned"), float(expires_on)
    )


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


def _takes_a_scope(get_token: Callable[..., Any]) -> bool:
    """Whether ``get_token`` can be called with one scope, as the protocol requires."""
    try:
        inspect.signature(get_token).bind("scope")
    except TypeError:
        return False
    except ValueError:  # no signature to read (a builtin): trust it
        return True
    return True


def resolve_credential(explicit: str | TokenCredential | Any = None) -> TokenCredential:
    """The credential to use: explicit, then ``MMS_TOKEN``, then azure-identity.

    A token string becomes a ``StaticTokenCredential``; any object with azure-core's
    ``get_token(*scopes, **kwargs)`` is used through ``AzureIdentityCredential`` (MMS's
    scope, caching, errors as ``CredentialError``). Raises ``CredentialError`` naming every
    way to authenticate when none is available or the object does not fit the protocol.
    """
    if isinstance(explicit, str):
        return StaticTokenCredential(explicit)
    if isinstance(explicit, StaticTokenCredential | AzureIdentityCredential):
        return explicit
    if explicit is not None:
        get_token = getattr(explicit, "get_token", None)
        if not callable(get_token):
            raise CredentialError(
                f"credential must be a token string or an azure-core TokenCredential with "
                f"get_token(*scopes), got {type(explicit).__name__}; {HOW_TO_AUTHENTICATE}"
            )
        if not _takes_a_scope(get_token):
            raise CredentialError(
                f"{type(explicit).__name__}.get_token() takes no scope; a credential must "
                "accept get_token(*scopes, **kwargs) as azure-core's TokenCredential does"
            )
        return AzureIdentityCredential(explicit)
    from_env = os.environ.get(TOKEN_ENV, "")
    if from_env.strip():
        return StaticTokenCredential(from_env)
    return AzureIdentityCredential()


__all__ = [
    "ARM_SCOPE",
    "MMS_SCOPE",
    "REFRESH_MARGIN_SECONDS",
    "TOKEN_ENV",
    "AccessToken",
    "AzureIdentityCredential",
    "CredentialError",
    "StaticTokenCredential",
    "TokenCredential",
    "TokenLike",
    "azure_identity_installed",
    "needs_refresh",
    "resolve_credential",
]
