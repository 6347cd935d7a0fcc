"""HTTP for the client: one pooled session, timeouts, request ids, auth, the retry loop."""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3.exceptions
from pydantic import ValidationError

from mms_pulumi.auth import TokenCredential
from mms_pulumi.client._retry import (
    Failure,
    FailureKind,
    RetryPolicy,
    parse_retry_after,
    retry_delay,
)
from mms_pulumi.errors import (
    HttpResponseError,
    MmsError,
    OutcomeUnknownError,
    RequestNotSentError,
    error_class_for,
)
from mms_pulumi.schema import ErrorBody

logger = logging.getLogger("mms_pulumi.client")

REQUEST_ID = "x-ms-request-id"
CLIENT_REQUEST_ID = "x-ms-client-request-id"


@dataclass(frozen=True)
class Response:
    """What the client needs of an HTTP answer."""

    status: int
    headers: Mapping[str, str]
    body: Any
    request_id: str | None
    client_request_id: str | None


class Transport:
    """Sends requests to one MMS endpoint; thread-safe (the plugin calls from 4 threads)."""

    def __init__(
        self,
        endpoint: str,
        credential: TokenCredential,
        *,
        connect_timeout: float,
        read_timeout: float,
        policy: RetryPolicy,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.endpoint = endpoint.rstrip("/") + "/"
        self._credential = credential
        self._timeouts = (connect_timeout, read_timeout)
        self._policy = policy
        self._session = session or _pooled_session()
        self._clock = clock
        self._wall_clock = wall_clock
        self._sleep = sleep
        self._rng = rng or random.Random()

    def close(self) -> None:
        """Close pooled connections."""
        self._session.close()

    def url(self, path_or_url: str) -> str:
        """Resolve a host-relative path (or pass through an absolute URL) against the endpoint."""
        return urljoin(self.endpoint, path_or_url)

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        deadline: float | None = None,
    ) -> Response:
        """Send a request, retrying what is safe to retry, and return a 2xx answer.

        Raises ``RequestNotSentError``, ``OutcomeUnknownError`` or an ``HttpResponseError``
        subclass once retries are exhausted or not allowed.
        """
        url = self.url(path_or_url)
        path = urlsplit(url).path
        client_request_id = str(uuid.uuid4())
        attempt = 0
        while True:
            started = self._clock()
            try:
                answer = self._send(method, url, params, json, client_request_id)
            except _AttemptFailed as failed:
                error, failure = failed.error, failed.failure
            else:
                if answer.status < 400:
                    self._log(method, path, answer.status, answer.request_id, attempt, started)
                    return answer
                error = self._status_error(method, path, answer)
                failure = Failure(FailureKind.STATUS, answer.status, error.retry_after)
                self._log(method, path, answer.status, answer.request_id, attempt, started)
            remaining = None if deadline is None else deadline - self._clock()
            delay = retry_delay(
                method, failure, attempt, policy=self._policy, remaining=remaining, rng=self._rng
            )
            if delay is None:
                raise error
            logger.info(
                "retrying %s %s in %.2fs after %s (retry %d)",
                method,
                path,
                delay,
                failure.status or failure.kind.value,
                attempt + 1,
            )
            self._sleep(delay)
            attempt += 1

    def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        json: Any,
        client_request_id: str,
    ) -> Response:
        headers = {
            "Authorization": f"Bearer {self._credential.get_token().token}",
            CLIENT_REQUEST_ID: client_request_id,
            "Accept": "application/json",
        }
        try:
            raw = self._session.request(
                method, url, params=params, json=json, headers=headers, timeout=self._timeouts
            )
        except requests.RequestException as err:
            raise _AttemptFailed.from_exception(method, url, err, client_request_id) from err
        body: Any = None
        if raw.content:
            try:
                body = raw.json()
            except ValueError:
                body = None
        return Response(
            status=raw.status_code,
            headers=raw.headers,
            body=body,
            request_id=raw.headers.get(REQUEST_ID),
            client_request_id=raw.headers.get(CLIENT_REQUEST_ID, client_request_id),
        )

    def _status_error(self, method: str, path: str, answer: Response) -> HttpResponseError:
        try:
            body = ErrorBody.model_validate(answer.body) if isinstance(answer.body, dict) else None
        except ValidationError:
            body = None
        return error_class_for(answer.status)(
            method,
            path,
            answer.status,
            body,
            request_id=answer.request_id,
            client_request_id=answer.client_request_id,
            retry_after=parse_retry_after(answer.headers, self._wall_clock()),
        )

    def _log(
        self,
        method: str,
        path: str,
        status: int,
        request_id: str | None,
        attempt: int,
        started: float,
    ) -> None:
        logger.debug(
            "%s %s -> %d request-id=%s attempt=%d %.0fms",
            method,
            path,
            status,
            request_id,
            attempt,
            (self._clock() - started) * 1000,
        )


class _AttemptFailed(Exception):
    """An attempt that got no HTTP answer, classified as not sent or outcome unknown."""

    def __init__(self, error: MmsError, failure: Failure) -> None:
        super().__init__(str(error))
        self.error = error
        self.failure = failure

    @classmethod
    def from_exception(
        cls, method: str, url: str, err: requests.RequestException, client_request_id: str
    ) -> _AttemptFailed:
        path = urlsplit(url).path
        if _never_sent(err):
            error: MmsError = RequestNotSentError(
                f"{method} {path} could not reach MMS at {urlsplit(url).netloc} "
                f"({_reason(err)}); nothing was sent. Check the endpoint and the network.",
                client_request_id=client_request_id,
            )
            return cls(error, Failure(FailureKind.NOT_SENT))
        error = OutcomeUnknownError(
            f"{method} {path} was sent but no answer came back ({_reason(err)}); MMS may or "
            "may not have acted on it. Check the account before repeating it.",
            client_request_id=client_request_id,
        )
        return cls(error, Failure(FailureKind.UNKNOWN))


def _never_sent(err: requests.RequestException) -> bool:
    """Whether the failure happened before any byte of the request left this machine."""
    if isinstance(err, requests.ConnectTimeout):
        return True
    if isinstance(err, requests.ConnectionError):
        reason: Any = err.args[0] if err.args else None
        reason = getattr(reason, "reason", reason)
        return isinstance(reason, urllib3.exceptions.NewConnectionError)
    return False


def _reason(err: requests.RequestException) -> str:
    if isinstance(err, requests.ConnectTimeout):
        return "connect timeout"
    if isinstance(err, requests.ReadTimeout):
        return "read timeout"
    if isinstance(err, requests.ConnectionError):
        text = str(err.args[0]) if err.args else ""
        for marker in ("Connection refused", "Connection reset", "Remote end closed", "aborted"):
            if marker.lower() in text.lower():
                return marker.lower()
        return "connection error"
    return type(err).__name__


def _pooled_session() -> requests.Session:
    session = requests.Session()
    # Retries are ours (with the POST rules), so urllib3 must not retry behind our back.
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=16, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = "mms-pulumi"
    return session
