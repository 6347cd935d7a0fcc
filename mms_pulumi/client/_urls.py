"""Where a URL will really be sent: the one origin rule for the token, bodies and keys.

The client's origin check and its HTTP library must read a URL the same way, or a link such
as ``http://127.0.0.1:1\\@127.0.0.1:2/`` passes the check as one origin (``urlsplit`` takes
``127.0.0.1:2`` after the ``@``) while requests sends it, token and all, to the other
(urllib3 ends the authority at the backslash). So the origin is taken from the URL exactly
as requests prepares it, as urllib3 parses it to open the connection, and any URL whose
spelling leaves room for two readings is refused outright rather than guessed at:
backslashes, user names and passwords, control, whitespace and non-ASCII characters (IDNA
would rewrite the host), stray ``%`` signs, percent-encoded hosts and IPv6 zone ids, ports
with leading zeros or no digits, and a host on which the two parsers disagree.

Pure: nothing here opens a socket or resolves a name.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
import urllib3.util

_DEFAULT_PORTS = {"http": 80, "https": 443}
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_PORT = re.compile(r"[1-9][0-9]{0,4}")


class AmbiguousUrlError(ValueError):
    """A URL that cannot be sent, or whose destination two readings would disagree on;
    the message says which rule it broke and never repeats the URL (it may hold a secret)."""


@dataclass(frozen=True)
class Origin:
    """Scheme, host and port a request is sent to, the default port filled in."""

    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def is_loopback(self) -> bool:
        """Whether the origin is on this machine (``localhost`` or a loopback address)."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def prepared_url(url: str) -> str:
    """The URL as requests will put it on the wire (quoted, host normalised)."""
    prepared = requests.PreparedRequest()
    try:
        prepared.prepare_url(url, None)
    except (requests.exceptions.RequestException, ValueError, UnicodeError):
        raise AmbiguousUrlError("it is not a URL requests can send") from None
    return str(prepared.url)


def sent_origin(url: str) -> Origin:
    """The origin requests will connect to for ``url``; ``AmbiguousUrlError`` if the URL
    breaks a rule of this module (its docstring lists them)."""
    return sent_url(url)[0]


def sent_url(url: str) -> tuple[Origin, str]:
    """``sent_origin`` of ``url`` and the URL as requests will put it on the wire."""
    if not isinstance(url, str) or not url:
        raise AmbiguousUrlError("it is empty")
    if not (url.isascii() and url.isprintable()) or any(char.isspace() for char in url):
        raise AmbiguousUrlError("it holds a control, whitespace or non-ASCII character")
    if "\\" in url:
        raise AmbiguousUrlError("it holds a backslash")
    if _STRAY_PERCENT.search(url):
        raise AmbiguousUrlError("it holds a % that does not start a %XX escape")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise AmbiguousUrlError("it is not a well-formed URL") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise AmbiguousUrlError("it is not an http or https URL")
    netloc = parts.netloc
    if "@" in netloc:
        raise AmbiguousUrlError("it carries a user name or password")
    if "%" in netloc:
        raise AmbiguousUrlError("its host is percent-encoded or has an IPv6 zone id")
    host, port_text = _split_host_port(netloc)
    if not host:
        raise AmbiguousUrlError("it names no host")
    if port_text is not None and not _PORT.fullmatch(port_text):
        raise AmbiguousUrlError("its port is not a number from 1 to 65535 without leading zeros")
    port = int(port_text) if port_text is not None else _DEFAULT_PORTS[scheme]
    if port > 65535:
        raise AmbiguousUrlError("its port is not a number from 1 to 65535 without leading zeros")
    ours = Origin(scheme, host.lower(), port)
    # The reading that counts: the prepared URL as urllib3 parses it to pick a connection.
    wire = prepared_url(url)
    if prepared_url(wire) != wire:
        raise AmbiguousUrlError("it reads differently each time it is prepared")
    try:
        theirs = urllib3.util.parse_url(wire)
    except urllib3.exceptions.LocationParseError:
        raise AmbiguousUrlError("it is not a URL urllib3 can parse") from None
    their_scheme = (theirs.scheme or "").lower()
    sent = Origin(
        their_scheme,
        (theirs.host or "").strip("[]").lower(),
        theirs.port or _DEFAULT_PORTS.get(their_scheme, 0),
    )
    if theirs.auth is not None or sent != ours:
        raise AmbiguousUrlError("the HTTP library would send it somewhere else than it reads")
    return ours, wire


def _split_host_port(netloc: str) -> tuple[str, str | None]:
    """Host and port text of an authority without user info (an IPv6 host unbracketed)."""
    if netloc.startswith("["):
        end = netloc.find("]")
        if end < 0:
            raise AmbiguousUrlError("its IPv6 host has no closing bracket")
        literal, rest = netloc[1:end], netloc[end + 1 :]
        try:
            ipaddress.IPv6Address(literal)
        except ValueError:
            raise AmbiguousUrlError("its bracketed host is not an IPv6 address") from None
        if rest and not rest.startswith(":"):
            raise AmbiguousUrlError("something follows its IPv6 host")
        return str(ipaddress.IPv6Address(literal)), rest[1:] if rest else None
    if netloc.count(":") > 1 or "[" in netloc or "]" in netloc:
        raise AmbiguousUrlError("its host and port cannot be told apart")
    host, colon, port = netloc.partition(":")
    return host, port if colon else None


def endpoint_problem(endpoint: str) -> str | None:
    """Why ``endpoint`` cannot be the MMS endpoint, as a rule and its fix, or ``None``
    (pure). Never repeats the URL: a user name and password in it are a credential."""
    try:
        netloc = urlsplit(endpoint).netloc
    except ValueError:
        netloc = ""
    if "@" in netloc:
        return (
            "must not carry a user name or password: give the token as mms:token (a "
            "secret) or MMS_TOKEN"
        )
    try:
        sent_origin(endpoint)
    except AmbiguousUrlError as err:
        return (
            "must be a plain http(s) URL such as https://eastus2.modelmanagement.azureml.net, "
            f"or 'emulator' for the local emulator, but {err}"
        )
    return None
