"""The console's sessions and CSRF tokens: pure functions of a per-process secret.

A session is a cookie ``<nonce>.<issued>.<mac>``: a random nonce, when it was issued and
an HMAC of both under the emulator's secret, so the emulator keeps no session table
(nothing for a flood of visits to grow), a session ends after ``SESSION_SECONDS``, and a
restart, which draws a new secret, ends every one. Signing out puts the nonce on a short
list of refused ones (``SignedOut``) until it would have expired anyway. Where the emulator
has a ``--token``, a session is only issued once the token was typed into the login form;
the token itself never goes into a cookie, a URL or a log.

Every state change (a score, a key shown or regenerated) carries a CSRF token, an HMAC of
the session's nonce under another label: a page of another origin can neither read it nor
make it, and the cookie is ``SameSite=Strict`` on top of the Origin rule every request of
the emulator goes through (``middleware.LocalOnly``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Container

# One cookie per port: browsers keep cookies per host, not per port, so two emulators on
# 127.0.0.1 would otherwise overwrite each other's session.
COOKIE_PREFIX = "mms_console_"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-mms-console-csrf"
_NONCE_BYTES = 24
# How long a session lasts; then the console asks for the token again.
SESSION_SECONDS = 12 * 60 * 60


def new_secret() -> bytes:
    """A secret for one emulator process's sessions."""
    return secrets.token_bytes(32)


def cookie_name(port: int | None) -> str:
    """The session cookie's name for an emulator reached on ``port``."""
    return f"{COOKIE_PREFIX}{port or 0}"


def _mac(secret: bytes, label: str, nonce: str) -> str:
    return hmac.new(secret, f"{label}:{nonce}".encode(), hashlib.sha256).hexdigest()


def new_session(secret: bytes, now: float) -> str:
    """A fresh session cookie value, issued at ``now`` (epoch seconds)."""
    nonce = secrets.token_urlsafe(_NONCE_BYTES)
    issued = str(int(now))
    return f"{nonce}.{issued}.{_mac(secret, 'session', f'{nonce}.{issued}')}"


def session_nonce(
    secret: bytes, cookie: str | None, now: float, signed_out: Container[str] = ()
) -> str | None:
    """The nonce of a live session cookie this process issued, or ``None`` for any other
    value: missing, forged, from an earlier run or another emulator, older than
    ``SESSION_SECONDS``, or signed out."""
    if not cookie or len(cookie) > 200 or not cookie.isascii():
        return None
    nonce, _, rest = cookie.partition(".")
    issued, _, mac = rest.partition(".")
    if not nonce or not issued.isdigit() or len(issued) > 12:
        return None
    if not hmac.compare_digest(mac, _mac(secret, "session", f"{nonce}.{issued}")):
        return None
    if not 0 <= now - int(issued) <= SESSION_SECONDS or nonce in signed_out:
        return None
    return nonce


class SignedOut:
    """The sessions signed out before they expired: their cookies are refused until then.
    Bounded (the oldest are forgotten first), so no flood of sign-outs grows it."""

    def __init__(self, limit: int = 4096) -> None:
        self._limit = limit
        self._nonces: dict[str, None] = {}

    def add(self, nonce: str) -> None:
        """Refuse this session from now on."""
        self._nonces[nonce] = None
        while len(self._nonces) > self._limit:
            del self._nonces[next(iter(self._nonces))]

    def __contains__(self, nonce: object) -> bool:
        return nonce in self._nonces


def csrf_token(secret: bytes, nonce: str) -> str:
    """The CSRF token of a session, put in every form and read by the page's script."""
    return _mac(secret, "csrf", nonce)


def csrf_problem(secret: bytes, nonce: str | None, offered: str | None) -> str | None:
    """Why a state change is refused, or ``None``: it needs a session and that session's
    CSRF token."""
    if nonce is None:
        return "open the console first: this browser has no console session"
    if not offered or not offered.isascii():
        return "the request carries no console CSRF token: reload the page and try again"
    if not hmac.compare_digest(offered, csrf_token(secret, nonce)):
        return "the console CSRF token does not match this session: reload the page"
    return None


def token_matches(offered: str, token: str) -> bool:
    """Whether the token typed into the login form is the emulator's ``--token``."""
    return hmac.compare_digest(offered.encode("utf-8", "surrogateescape"), token.encode("utf-8"))
