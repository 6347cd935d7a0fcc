"""HTTP for the client: one pooled session, timeouts, request ids, auth, the retry loop.

The session is the seam tests script: anything with ``requests.Session.request``'s
signature can stand in for it, so the whole client runs without sockets.
"""

from __future__ import annotations

import contextlib
import json as jsonlib
import logging
import random
import socket
import ssl
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import requests
import urllib3.exceptions
from pydantic import ValidationError
from requests.structures import CaseInsensitiveDict

from mms_pulumi.auth import MMS_SCOPE, TokenCredential
from mms_pulumi.client import _defaults
from mms_pulumi.client._retry import (
    DeadlineReached,
    Failure,
    FailureKind,
    RetryBudget,
    RetryPolicy,
    Stop,
    parse_retry_after,
)
from mms_pulumi.client._secrets import Secrets
from mms_pulumi.client._urls import (
    AmbiguousUrlError,
    endpoint_problem,
    sent_origin,
    sent_url,
)
from mms_pulumi.errors import (
    CredentialError,
    ForeignOriginError,
    MmsError,
    MmsHttpError,
    OutcomeUnknownError,
    ProtocolError,
    RequestNotSentError,
    error_class_for,
)
from mms_pulumi.schema import ErrorBody

logger = logging.getLogger("mms_pulumi.client")

REQUEST_ID = "x-ms-request-id"
REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5
# MMS answers are objects and pages of a few kilobytes; anything near this is not one, and
# reading it whole could exhaust memory (a gzip bomb counts decoded).
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
_BODY_CHUNK = 64 * 1024


def _malformed_link() -> ProtocolError:
    # The link is not shown: it came from the service and could be anything.
    return ProtocolError(
        "MMS sent a link (Operation-Location, Location, nextLink or resourceLocation) that "
        "is not a well-formed URL; nothing was sent to it. Report it with the request ids."
    )


CLIENT_REQUEST_ID = "x-ms-client-request-id"

# Failures no retry can fix: a malformed endpoint, a certificate the host cannot prove.
_LOCAL_MISTAKES = (
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.InvalidURL,
    requests.exceptions.InvalidHeader,
    requests.exceptions.SSLError,
)


@dataclass(frozen=True)
class Response:
    """What the client needs of an HTTP answer."""

    status: int
    url: str
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=CaseInsensitiveDict)
    request_id: str | None = None
    client_request_id: str | None = None


@dataclass(frozen=True)
class Clock:
    """The time sources the client reads and waits with (replaced in tests)."""

    monotonic: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep


class Transport:
    """Sends requests to one MMS endpoint; thread-safe (the plugin calls from many threads)."""

    def __init__(
        self,
        endpoint: str,
        credential: TokenCredential,
        *,
        connect_timeout: float,
        read_timeout: float,
        policy: RetryPolicy,
        session: requests.Session | None = None,
        clock: Clock = Clock(),
        rng: random.Random | None = None,
    ) -> None:
        problem = endpoint_problem(endpoint)
        if problem is not None:
            raise ValueError(f"endpoint {problem}")
        self.endpoint = endpoint.rstrip("/") + "/"
        self.origin = sent_origin(self.endpoint)
        self.policy = policy
        self._credential = credential
        self._timeouts = (connect_timeout, read_timeout)
        self._owns_session = session is None
        self._session = session if session is not None else pooled_session()
        self.monotonic = clock.monotonic
        self.wall_clock = clock.wall
        self.sleep = clock.sleep
        self.rng = rng or random.Random()

    def close(self) -> None:
        """Close pooled connections (a session passed in stays the caller's to close)."""
        if self._owns_session:
            self._session.close()

    def resolve(self, link: str, base: str | None = None) -> str:
        """An absolute URL for a link that may be absolute, host-relative or relative."""
        try:
            return urljoin(base or self.endpoint, link)
        except ValueError:
            raise _malformed_link() from None

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        deadline: float | None = None,
        budget: RetryBudget | None = None,
    ) -> Response:
        """Send a request, retrying what is safe to retry, and return a non-error answer.

        Retries draw on ``budget`` (a fresh one of this transport's policy and ``deadline``,
        a ``monotonic`` time, when none is given; without either, the call's tries and waits
        together stay within ``CALL_DEADLINE``). Raises ``RequestNotSentError``,
        ``OutcomeUnknownError`` or an ``MmsHttpError`` subclass once retries are used up or
        not allowed, and ``DeadlineReached`` (wrapping the last error) when the deadline left
        no room for another try.
        """
        # A caller with a deadline of its own is told it was reached (``DeadlineReached``);
        # one without gets the last error, as when retries run out.
        caller_deadline = budget is not None or deadline is not None
        if budget is None:
            if deadline is None:
                deadline = self.monotonic() + _defaults.CALL_DEADLINE
            budget = RetryBudget(self.policy, deadline)
        self.check_origin(url)
        path = urlsplit(url).path
        # One id per logical call, the same on every retry, so MMS logs tie them together.
        client_request_id = str(uuid.uuid4())
        hops = 0
        while True:
            started = self.monotonic()
            try:
                answer = self._send(method, url, params, json, client_request_id, budget.deadline)
            except _AttemptFailed as failed:
                error, failure = failed.error, failed.failure
                self._log(method, path, failure.kind.value, None, budget.used, started)
            else:
                self._log(method, path, answer.status, answer.request_id, budget.used, started)
                if answer.status in REDIRECTS:
                    method, url, json = self._redirected(method, url, json, answer, hops)
                    params, path, hops = None, urlsplit(url).path, hops + 1
                    continue
                if answer.status < 400:
                    return answer
                error = self._status_error(method, path, answer, json)
                failure = Failure(FailureKind.STATUS, answer.status, error.retry_after)
            decision = budget.decide(method, failure, self.monotonic(), self.rng)
            if decision.delay is None:
                if decision.stop is Stop.DEADLINE and caller_deadline:
                    raise DeadlineReached(error) from error
                raise error
            logger.info(
                "retrying %s %s in %.2fs after %s (retry %d of %d, client request id %s)",
                method,
                path,
                decision.delay,
                failure.status or failure.kind.value,
                budget.used,
                self.policy.max_retries,
                client_request_id,
            )
            self.sleep(decision.delay)

    def check_origin(self, url: str) -> str:
        """Refuse a URL that requests would send anywhere but the endpoint's origin, or
        whose destination is open to two readings (``ForeignOriginError``, rules in
        ``_urls``); the URL as it will go on the wire."""
        try:
            origin, wire = sent_url(url)
        except AmbiguousUrlError as err:
            raise ForeignOriginError(
                f"MMS sent a link that could be read as more than one destination ({err}); "
                "the client sends its token and bodies only to the configured endpoint "
                f"{self.origin}, so nothing was sent. Report it with the request ids."
            ) from None
        if origin != self.origin:
            raise ForeignOriginError(
                f"MMS named {origin}, not the configured endpoint {self.origin}: the client "
                "sends its token and bodies only to the endpoint, so the request was not "
                "sent. Check mms:endpoint (use the same host name MMS uses in its links)."
            )
        return wire

    def _redirected(
        self, method: str, url: str, json: Any, answer: Response, hops: int
    ) -> tuple[str, str, Any]:
        """Where a redirect leads, if the client may follow it there; else an error."""
        location = answer.headers.get("Location")
        if not location or hops >= MAX_REDIRECTS:
            raise ProtocolError(
                f"MMS answered {answer.status} to {method} {urlsplit(url).path} "
                + ("without a Location" if not location else f"{MAX_REDIRECTS} times in a row")
                + "; nothing more was sent.",
                request_id=answer.request_id,
                client_request_id=answer.client_request_id,
            )
        target = self.resolve(location, url)
        self.check_origin(target)
        if answer.status == 303 or (answer.status in (301, 302) and method == "POST"):
            return "GET", target, None
        return method, target, json

    def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        json: Any,
        client_request_id: str,
        deadline: float | None,
    ) -> Response:
        # The URL exactly as it goes on the wire, query included, checked on every hop;
        # only then does the token join the headers.
        if params:
            url = f"{url}{'&' if urlsplit(url).query else '?'}{urlencode(params)}"
        url = self.check_origin(url)
        headers = {
            "Authorization": f"Bearer {self._token()}",
            CLIENT_REQUEST_ID: client_request_id,
            "Accept": "application/json",
        }
        try:
            raw = self._session.request(
                method,
                url,
                json=json,
                headers=headers,
                timeout=self._timeouts_within(deadline),
                # Redirects are followed here, only to the endpoint's own origin.
                allow_redirects=False,
                # The body is read here, bounded in size and time (``_read_body``).
                stream=True,
            )
        except _LOCAL_MISTAKES as err:
            raise RequestNotSentError(
                f"{method} {urlsplit(url).path} was not sent and is not retried: "
                f"{_reason(err)}. Check the endpoint (mms:endpoint) and, for https, the "
                "host's certificate.",
                client_request_id=client_request_id,
            ) from err
        except requests.RequestException as err:
            raise _AttemptFailed.classify(method, url, err, client_request_id) from err
        except ValueError:
            # requests parses a redirect's Location even when it does not follow it.
            raise _malformed_link() from None
        content = self._read_body(raw, method, url, client_request_id, deadline)
        body: Any = None
        if content:
            try:
                body = jsonlib.loads(content)
            except (ValueError, RecursionError):  # not JSON, or nested past the stack
                body = None
        response_headers = CaseInsensitiveDict(raw.headers)
        answered_url = getattr(raw, "url", None)
        return Response(
            status=raw.status_code,
            # After a redirect, links in the body are relative to where the answer came from.
            url=answered_url if isinstance(answered_url, str) and answered_url else url,
            body=body,
            headers=response_headers,
            request_id=response_headers.get(REQUEST_ID),
            client_request_id=response_headers.get(CLIENT_REQUEST_ID, client_request_id),
        )

    def _read_body(
        self,
        raw: requests.Response,
        method: str,
        url: str,
        client_request_id: str,
        deadline: float | None,
    ) -> bytes:
        """The answer's body, decoded, read as it arrives: at most ``MAX_RESPONSE_BYTES``,
        and the whole of it within the read timeout (or the caller's deadline, if sooner).
        The read timeout alone bounds each receive, so a server sending a byte now and then
        could otherwise hold a call for as long as it liked."""
        stream = getattr(raw, "raw", None)
        if not callable(getattr(stream, "read1", None)):
            return raw.content or b""  # a session that read the body already
        _connect, budget = self._timeouts_within(deadline)
        stop_at = self.monotonic() + budget
        chunks: list[bytes] = []
        size = 0
        problem = ""
        try:
            while chunk := stream.read1(_BODY_CHUNK, decode_content=True):  # type: ignore[union-attr]
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
            raise _AttemptFailed.classify(
                method, url, _as_requests_error(err, raw), client_request_id
            ) from err
        if problem:
            raw.close()  # the rest is not wanted: the connection is dropped, not pooled
            error = OutcomeUnknownError(
                f"{method} {urlsplit(url).path} was answered {raw.status_code}, but the "
                f"answer's body {problem}; MMS may or may not have acted on the request. "
                "Look at the account before repeating it.",
                client_request_id=client_request_id,
            )
            raise _AttemptFailed(error, Failure(FailureKind.UNKNOWN))
        release = getattr(stream, "release_conn", None)
        if callable(release):
            release()  # read to the end: the connection can serve the next request
        return b"".join(chunks)

    def _token(self) -> str:
        try:
            return self._credential.get_token(MMS_SCOPE).token
        except MmsError:
            raise
        except Exception as err:
            raise CredentialError(
                f"the credential could not give a token ({type(err).__name__}); pass a token "
                "string, set MMS_TOKEN, or fix the credential object"
            ) from err

    def _timeouts_within(self, deadline: float | None) -> tuple[float, float]:
        connect, read = self._timeouts
        if deadline is None:
            return connect, read
        # A request must not outlive the caller's deadline by a whole read timeout.
        remaining = max(0.05, deadline - self.monotonic())
        return min(connect, remaining), min(read, remaining)

    def _status_error(
        self, method: str, path: str, answer: Response, sent: Any = None
    ) -> MmsHttpError:
        try:
            body = ErrorBody.model_validate(answer.body) if isinstance(answer.body, dict) else None
        except ValidationError:
            body = None
        if body is not None:
            # A service may quote what it was sent; the error must not carry it on.
            token: tuple[str, ...] = ()
            with contextlib.suppress(MmsError):
                token = (self._token(),)
            body = _scrubbed(body, Secrets.of(sent, *token))
        return error_class_for(answer.status)(
            method,
            path,
            answer.status,
            body,
            request_id=answer.request_id,
            client_request_id=answer.client_request_id,
            retry_after=parse_retry_after(answer.headers, self.wall_clock()),
        )

    def _log(
        self,
        method: str,
        path: str,
        outcome: int | str,
        request_id: str | None,
        attempt: int,
        started: float,
    ) -> None:
        # Method, path and ids only: never headers (the token), query strings or bodies
        # (kubeConfig, registry passwords).
        logger.debug(
            "%s %s -> %s request-id=%s attempt=%d %.0fms",
            method,
            path,
            outcome,
            request_id,
            attempt,
            (self.monotonic() - started) * 1000,
        )


class _AttemptFailed(Exception):
    """An attempt that got no HTTP answer, classified as not sent or outcome unknown."""

    def __init__(self, error: MmsError, failure: Failure) -> None:
        super().__init__(str(error))
        self.error = error
        self.failure = failure

    @classmethod
    def classify(
        cls, method: str, url: str, err: requests.RequestException, client_request_id: str
    ) -> _AttemptFailed:
        parts = urlsplit(url)
        if _never_sent(err):
            error: MmsError = RequestNotSentError(
                f"{method} {parts.path} could not reach MMS at {parts.netloc} "
                f"({_reason(err)}); nothing was sent. Check the endpoint and the network.",
                client_request_id=client_request_id,
            )
            error.__cause__ = err
            return cls(error, Failure(FailureKind.NOT_SENT))
        error = OutcomeUnknownError(
            f"{method} {parts.path} was sent but no answer came back ({_reason(err)}); MMS may "
            "or may not have acted on it. Look at the account before repeating it.",
            client_request_id=client_request_id,
        )
        error.__cause__ = err
        return cls(error, Failure(FailureKind.UNKNOWN))


def _scrubbed(body: ErrorBody, secrets: Secrets) -> ErrorBody:
    """The error body with every secret (``_secrets``) masked in its message and details."""
    details = [d.model_copy(update={"message": secrets.scrub(d.message)}) for d in body.details]
    return body.model_copy(update={"message": secrets.scrub(body.message), "details": details})


def _as_requests_error(err: BaseException, raw: requests.Response) -> requests.RequestException:
    """A failure while reading a streamed body, as requests reports it when it reads the
    body itself (``Response.iter_content``), so ``_AttemptFailed.classify`` sees one kind."""
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
