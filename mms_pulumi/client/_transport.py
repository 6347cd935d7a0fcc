"""The client's rules around each HTTP exchange: the retry loop, redirects, the origin
check on every hop, the token, request ids, timeouts within the caller's deadline, error
mapping with secrets scrubbed, and the access log.

One exchange is the ``HttpTransport``'s (``_http``): ``RequestsTransport`` by default,
anything with its ``send`` in tests (``MockTransport``) or a custom stack.
"""

from __future__ import annotations

import contextlib
import json as jsonlib
import logging
import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

from pydantic import ValidationError
from requests.structures import CaseInsensitiveDict

from mms_pulumi.auth import MMS_SCOPE, TokenCredential
from mms_pulumi.client import _defaults
from mms_pulumi.client._http import (
    HttpFailure,
    HttpRequest,
    HttpTransport,
    RequestsTransport,
    malformed_link,
)
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
CLIENT_REQUEST_ID = "x-ms-client-request-id"
REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5


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
        http: HttpTransport | None = None,
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
        self._owns_http = http is None
        self.http = http if http is not None else RequestsTransport(monotonic=clock.monotonic)
        self.monotonic = clock.monotonic
        self.wall_clock = clock.wall
        self.sleep = clock.sleep
        self.rng = rng or random.Random()

    def close(self) -> None:
        """Close pooled connections (a transport passed in stays the caller's to close)."""
        if self._owns_http:
            self.http.close()

    def resolve(self, link: str, base: str | None = None) -> str:
        """An absolute URL for a link that may be absolute, host-relative or relative."""
        try:
            return urljoin(base or self.endpoint, link)
        except ValueError:
            raise malformed_link() from None

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
        body = None
        if json is not None:
            headers["Content-Type"] = "application/json"
            body = jsonlib.dumps(json, allow_nan=False).encode()
        timeout = self._timeouts_within(deadline)
        request = HttpRequest(method, url, CaseInsensitiveDict(headers), body, timeout)
        try:
            raw = self.http.send(request)
        except HttpFailure as failed:
            raise self._unanswered(method, url, failed, client_request_id) from failed.__cause__
        content: Any = None
        if raw.content:
            try:
                content = jsonlib.loads(raw.content)
            except (ValueError, RecursionError):  # not JSON, or nested past the stack
                content = None
        response_headers = CaseInsensitiveDict(raw.headers)
        return Response(
            status=raw.status,
            url=url,
            body=content,
            headers=response_headers,
            request_id=response_headers.get(REQUEST_ID),
            client_request_id=response_headers.get(CLIENT_REQUEST_ID, client_request_id),
        )

    @staticmethod
    def _unanswered(
        method: str, url: str, failed: HttpFailure, client_request_id: str
    ) -> MmsError | _AttemptFailed:
        """What a failed exchange means to the caller: an error to raise at once (``final``)
        or an attempt the retry loop decides on."""
        parts = urlsplit(url)
        if failed.final:
            return RequestNotSentError(
                f"{method} {parts.path} was not sent and is not retried: "
                f"{failed.reason}. Check the endpoint (mms:endpoint) and, for https, the "
                "host's certificate.",
                client_request_id=client_request_id,
            )
        error: MmsError
        if failed.status is not None:
            error = OutcomeUnknownError(
                f"{method} {parts.path} was answered {failed.status}, but the answer's body "
                f"{failed.reason}; MMS may or may not have acted on the request. Look at the "
                "account before repeating it.",
                client_request_id=client_request_id,
            )
        elif failed.kind is FailureKind.NOT_SENT:
            error = RequestNotSentError(
                f"{method} {parts.path} could not reach MMS at {parts.netloc} "
                f"({failed.reason}); nothing was sent. Check the endpoint and the network.",
                client_request_id=client_request_id,
            )
        else:
            error = OutcomeUnknownError(
                f"{method} {parts.path} was sent but no answer came back ({failed.reason}); "
                "MMS may or may not have acted on it. Look at the account before repeating "
                "it.",
                client_request_id=client_request_id,
            )
        error.__cause__ = failed.__cause__
        return _AttemptFailed(error, Failure(failed.kind))

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


def _scrubbed(body: ErrorBody, secrets: Secrets) -> ErrorBody:
    """The error body with every secret (``_secrets``) masked in its message and details."""
    details = [d.model_copy(update={"message": secrets.scrub(d.message)}) for d in body.details]
    return body.model_copy(update={"message": secrets.scrub(body.message), "details": details})
