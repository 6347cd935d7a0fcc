"""One HTTP exchange, below the client's rules: the seam a test or a custom stack plugs in.

``MmsClient(..., transport=...)`` takes anything with ``send(HttpRequest) -> HttpResponse``
and ``close()`` (the ``HttpTransport`` protocol), as httpx's ``Client(transport=)`` and
azure-core's ``PipelineClient(transport=)`` do. It gets each request fully prepared (the
URL as it goes on the wire, checked against the endpoint's origin; the headers, token
included; the body as bytes) and answers with the status, headers and body bytes, or
raises ``HttpFailure`` saying whether anything was sent. Everything above it (retries,
redirects, the origin check on every hop, error mapping, secrets) is the client's, so it
holds for any transport.

``RequestsTransport`` is the default: a pooled ``requests`` session, the body read as it
arrives, bounded in size and time. ``MockTransport(handler)`` answers from a function, for
tests with no sockets.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import requests
import urllib3.exceptions
from requests.structures import CaseInsensitiveDict

from mms_pulumi.client import _defaults
from mms_pulumi.client._retry import FailureKind
from mms_pulumi.errors import ProtocolError

# MMS answers are objects and pages of a few kilobytes; anything near this is not one, and
# reading it whole could exhaust memory (a gzip bomb counts decoded).
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
_BODY_CHUNK = 64 * 1024


@dataclass(frozen=True)
class HttpRequest:
    """A request as it goes on the wire."""

    method: str
    # Absolute, query included, already checked against the endpoint's origin.
    url: str
    headers: Mapping[str, str]
    body: bytes | None = None
    # Seconds to connect, and to receive the whole answer (each receive, and the body).
    timeout: tuple[float, float] = (_defaults.CONNECT_TIMEOUT, _defaults.READ_TIMEOUT)


@dataclass(frozen=True)
class HttpResponse:
    """An HTTP answer: status, headers and the body's bytes (decoded, as sent otherwise)."""

    status: int
    headers: Mapping[str, str] = field(default_factory=CaseInsensitiveDict)
    content: bytes = b""


class HttpFailure(Exception):
    """No usable HTTP answer, and what that means for the request.

    ``kind`` is ``FailureKind.NOT_SENT`` when provably nothing reached the service (it may
    be tried again) or ``FailureKind.UNKNOWN`` when it may have acted. ``final`` marks a
    failure no retry can fix (a malformed URL, a certificate the host cannot prove).
    ``status`` is set when the service answered but the body could not be had. ``reason``
    is a few words, never the URL's query or anything from the request.
    """

    def __init__(
        self,
        kind: FailureKind,
        reason: str,
        *,
        final: bool = False,
        status: int | None = None,
    ) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason
        self.final = final
        self.status = status


@runtime_checkable
class HttpTransport(Protocol):
    """What ``MmsClient(transport=...)`` takes."""

    def send(self, request: HttpRequest) -> HttpResponse:
        """Send one request and return its answer, or raise ``HttpFailure``."""
        ...

    def close(self) -> None:
        """Release what the transport holds (connections)."""
        ...


class MockTransport:
    """A transport that answers from ``handler`` (a function of the request): no sockets."""

    def __init__(self, handler: Callable[[HttpRequest], HttpResponse]) -> None:
        self.handler = handler

    def send(self, request: HttpRequest) -> HttpResponse:
        """The handler's answer."""
        return self.handler(request)

    def close(self) -> None:
        """Nothing to release."""


def malformed_link() -> ProtocolError:
    """The error for a link from the service that is not a well-formed URL."""
    # The link is not shown: it came from the service and could be anything.
    return ProtocolError(
        "MMS sent a link (Operation-Location, Location, nextLink or resourceLocation) that "
        "is not a well-formed URL; nothing was sent to it. Report it with the request ids."
    )


# Failures no retry can fix: a malformed endpoint, a certificate the host cannot prove.
_LOCAL_MISTAKES = (
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.InvalidURL,
    requests.exceptions.InvalidHeader,
    requests.exceptions.SSLError,
)


class RequestsTransport:
    """The default transport: a ``requests`` session (pooled unless one is given)."""

    def __init__(
        self,
        session: requests.Session | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._owns_session = session is None
        self.session = session if session is not None else pooled_session()
        self.monotonic = monotonic

    def close(self) -> None:
        """Close pooled connections (a session passed in stays the caller's to close)."""
        if self._owns_session:
            self.session.close()

    def send(self, request: HttpRequest) -> HttpResponse:
        """Send the request; the answer with its body read, bounded in size and time."""
        try:
            raw = self.session.request(
                request.method,
                request.url,
                data=request.body,
                headers=dict(request.headers),
                timeout=request.timeout,
                # Redirects are the client's to follow, only to the endpoint's own origin.
                allow_redirects=False,
                # The body is read here, bounded in size and time (``_read_body``).
                stream=True,
            )
        except _LOCAL_MISTAKES as err:
            raise HttpFailure(FailureKind.NOT_SENT, _reason(err), final=True) from err
        except requests.RequestException as err:
            raise failure_of(err) from err
        except ValueError:
            # requests parses a redirect's Location even when it does not follow it.
            raise malformed_link() from None
        content = self._read_body(raw, request.timeout[1])
        return HttpResponse(raw.status_code, CaseInsensitiveDict(raw.headers), content)

    def _read_body(self, raw: requests.Response, budget: float) -> bytes:
        """The answer's body, decoded, read as it arrives: at most ``MAX_RESPONSE_BYTES``,
        and the whole of it within ``budget`` seconds. The read timeout alone bounds each
        receive, so a server sending a byte now and then could otherwise hold a call for as
        long as it liked."""
        stop_at = self.monotonic() + budget
        chunks: list[bytes] = []
        size = 0
        problem = ""
        try:
            while chunk := raw.raw.read1(_BODY_CHUNK, decode_content=True):
                size += len(chunk)
                if size > MAX_RESPONSE_BYTES:
                    problem = f"is larger than {MAX_RESPONSE_BYTES // (1024 * 1024)} MiB"
                elif self.monotonic() > stop_at:
                    problem = f"did not arrive within {budget:.0f} s"
                if problem:
                    break
                chunks.append(chunk)
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raw.close()
            raise failure_of(_as_requests_error(err, raw)) from err
        if problem:
            raw.close()  # the rest is not wanted: the connection is dropped, not pooled
            raise HttpFailure(FailureKind.UNKNOWN, problem, status=raw.status_code)
        raw.raw.release_conn()  # read to the end: the connection can serve the next request
        return b"".join(chunks)


def failure_of(err: requests.RequestException) -> HttpFailure:
    """A requests failure with no answer, as not sent or outcome unknown."""
    kind = FailureKind.NOT_SENT if _never_sent(err) else FailureKind.UNKNOWN
    failure = HttpFailure(kind, _reason(err))
    failure.__cause__ = err
    return failure


def _as_requests_error(err: BaseException, raw: requests.Response) -> requests.RequestException:
    """A failure while reading a streamed body, as requests reports it when it reads the
    body itself (``Response.iter_content``), so ``failure_of`` sees one kind."""
    if isinstance(err, urllib3.exceptions.DecodeError):
        return requests.exceptions.ContentDecodingError(err, response=raw)
    if isinstance(err, urllib3.exceptions.ProtocolError):
        return requests.exceptions.ChunkedEncodingError(err, response=raw)
    if isinstance(err, urllib3.exceptions.SSLError):
        return requests.exceptions.SSLError(err, response=raw)
    return requests.exceptions.ConnectionError(err, response=raw)


def _never_sent(err: requests.RequestException) -> bool:
    """Whether the failure happened before any byte of the request left this machine.

    Only a failure to connect proves that: refused, unreachable, unresolvable, or a
    connect timeout. A reset or timeout on an open connection may come after the service
    read the request, so it does not.
    """
    if isinstance(err, requests.ConnectTimeout) or _in_tls_handshake(err):
        return True
    if not isinstance(err, requests.ConnectionError):
        return False
    if any(isinstance(cause, _CONNECT_FAILURES) for cause in _causes(err)):
        return True
    # Some wrappers keep only the text; these phrases come from the connect step alone.
    text = str(err).lower()
    return any(phrase in text for phrase in _CONNECT_PHRASES)


def _causes(err: BaseException) -> list[BaseException]:
    """``err`` and every exception it wraps (``reason``, cause, context, args)."""
    found: list[BaseException] = []
    seen: set[int] = set()
    pending: list[BaseException] = [err]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        found.append(current)
        linked = (getattr(current, "reason", None), current.__cause__, current.__context__)
        pending += [e for e in (*linked, *current.args) if isinstance(e, BaseException)]
    return found


def _in_tls_handshake(err: BaseException) -> bool:
    """Whether the failure came from the TLS handshake (a stalled one surfaces as a read
    timeout): the request itself was never written."""
    return any(
        isinstance(cause, ssl.SSLError)
        or (isinstance(cause, TimeoutError) and "handshake" in str(cause).lower())
        for cause in _causes(err)
    )


# Exceptions raised while connecting, before the request is written.
_CONNECT_FAILURES = (
    urllib3.exceptions.NewConnectionError,  # refused, unreachable; NameResolutionError too
    urllib3.exceptions.ConnectTimeoutError,
    ConnectionRefusedError,
    socket.gaierror,
)
_CONNECT_PHRASES = (
    "connection refused",
    "failed to establish a new connection",
    "name or service not known",
    "nodename nor servname",
)


def _reason(err: requests.RequestException) -> str:
    """A short cause in words; never the URL's query or anything from the request."""
    if isinstance(err, requests.ConnectTimeout):
        return "connect timeout"
    if isinstance(err, requests.exceptions.SSLError):
        return "TLS handshake failed"
    if _in_tls_handshake(err):
        return "the TLS handshake did not complete"
    if isinstance(err, requests.ReadTimeout):
        return "read timeout"
    if isinstance(err, _LOCAL_MISTAKES):
        return f"invalid URL or header ({type(err).__name__})"
    text = str(err.args[0]).lower() if err.args else ""
    for marker in (
        "connection refused",
        "name or service not known",
        "connection reset",
        "remote end closed",
        "connection aborted",
    ):
        if marker in text:
            return marker
    return type(err).__name__


def pooled_session() -> requests.Session:
    """A session with a connection pool sized for the plugin's threads and no hidden retries."""
    session = requests.Session()
    # Retries are ours (with the POST rules), so urllib3 must not retry behind our back.
    adapter = requests.adapters.HTTPAdapter(
        pool_connections=_defaults.POOL_CONNECTIONS,
        pool_maxsize=_defaults.POOL_MAXSIZE,
        max_retries=0,
    )
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = _defaults.USER_AGENT
    session.auth = NoNetrc()
    return session


class NoNetrc(requests.auth.AuthBase):
    """Session-wide auth that changes nothing.

    With no auth set, requests would look the host up in ``~/.netrc`` and replace our
    bearer header with Basic credentials found there; having this set stops that lookup.
    (On a redirect to another host requests drops the Authorization header itself.)
    """

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request
