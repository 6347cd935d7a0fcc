"""A scripted transport for the client: an ``HttpTransport`` that plays answers, no sockets.

The client is given it with ``transport=`` (its public seam). Each step receives the fully
prepared ``HttpRequest`` (URL with query, headers, JSON body as bytes) and returns an
``HttpResponse``, or raises the failure ``requests`` would raise, which the wire reports
as ``RequestsTransport`` does (``failure_of``). A fake clock stands in for
``time.monotonic``/``time.time``/``time.sleep`` so nothing waits for real.
"""

from __future__ import annotations

import json
import random
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
import urllib3.exceptions
from requests.structures import CaseInsensitiveDict

from mms_pulumi.client import HttpRequest, HttpResponse, MmsClient
from mms_pulumi.client._http import failure_of

TOKEN = "tok-super-secret-123"
PASSWORD = "registry-password-xyz"
KUBE_SECRET = "kube-user-token-xyz"
KUBE = (
    '{"apiVersion":"v1","kind":"Config","clusters":[],"contexts":[],"current-context":"x",'
    f'"users":[{{"name":"u","user":{{"token":"{KUBE_SECRET}"}}}}]}}'
)
HOST = "http://mms.invalid"
BASE = "/api/subscriptions/s/resourceGroups/r/hostingAccounts/a"
# The fake wall clock starts here (2030-01-01T00:00:00Z); objects stamped after it count as
# made by the call under test, objects stamped before it as older.
WALL_START = 1893456000.0
AFTER = "2030-01-01T00:00:05Z"
BEFORE = "2029-12-31T23:00:00Z"

Step = Callable[[HttpRequest], HttpResponse]


def model_body(**extra: Any) -> dict[str, Any]:
    """A model as MMS answers it."""
    return {
        "id": "m1",
        "name": "churn",
        "version": 1,
        "url": "file:///m.json",
        "mimeType": "application/json",
        "description": "",
        "tags": [],
        "unpack": False,
        "createdAt": AFTER,
        **extra,
    }


MODEL_REQUEST = {"name": "churn", "url": "file:///m.json", "mimeType": "application/json"}
IMAGE_REQUEST = {
    "manifest_id": "man1",
    "image_type": "Docker",
    "registry_info": {"user": "u", "location": "acr.local", "password": PASSWORD},
}
SERVICE_REQUEST = {
    "name": "churn",
    "image_id": "img1",
    "kube_config": KUBE,
    "acr_image_pull_secret": "pull",
}


def operation_body(state: str, kind: str = "Image", **extra: Any) -> dict[str, Any]:
    """An operation as ``GET operations/{id}`` answers it."""
    resource = "images/img1" if kind == "Image" else "services/svc1"
    return {
        "id": "op1",
        "operationType": kind,
        "resourceLocation": f"{BASE}/{resource}",
        "createdTime": AFTER,
        "state": state,
        **extra,
    }


def answer(
    status: int,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    *,
    expect: str | None = None,
) -> Step:
    """Answer with ``status`` and a JSON ``body``; ``expect`` checks e.g. ``"POST /models"``."""

    def respond(request: HttpRequest) -> HttpResponse:
        if expect is not None:
            method, _, suffix = expect.partition(" ")
            got = f"{request.method} {urlsplit(request.url).path}"
            assert request.method == method and got.endswith(suffix), f"expected {expect}: {got}"
        answered = CaseInsensitiveDict(headers or {})
        answered.setdefault("x-ms-request-id", f"req-{status}")
        client_id = request.headers.get("x-ms-client-request-id")
        if client_id:
            answered.setdefault("x-ms-client-request-id", client_id)
        content = b"" if body is None else json.dumps(body).encode()
        return HttpResponse(status, answered, content)

    return respond


def refuse(request: HttpRequest) -> HttpResponse:
    """Connection refused: nothing was sent."""
    reason = urllib3.exceptions.NewConnectionError(None, "Connection refused")  # type: ignore[arg-type]
    error = urllib3.exceptions.MaxRetryError(None, request.url, reason)  # type: ignore[arg-type]
    raise requests.ConnectionError(error)


def time_out(request: HttpRequest) -> HttpResponse:
    """Sent, and no answer in time."""
    raise requests.ReadTimeout("read timed out")


def reset(request: HttpRequest) -> HttpResponse:
    """Sent, then the connection dropped before an answer."""
    raise requests.ConnectionError(
        urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError(104))
    )


class ScriptedWire:
    """Plays steps in order; records every request it was given (thread-safe)."""

    def __init__(self, steps: Iterable[Step]) -> None:
        self.steps: deque[Step] = deque(steps)
        self.sent: list[HttpRequest] = []
        self._lock = threading.Lock()

    def send(self, request: HttpRequest) -> HttpResponse:
        """The next step's answer; a requests failure is reported as the default
        transport reports it."""
        with self._lock:
            self.sent.append(request)
            assert self.steps, f"unexpected {request.method} {request.url}"
            step = self.steps.popleft()
        try:
            return step(request)
        except requests.RequestException as err:
            raise failure_of(err) from err

    def close(self) -> None:
        """Nothing to close."""

    @property
    def timeouts(self) -> list[tuple[float, float]]:
        """The (connect, read) timeout of every request."""
        return [request.timeout for request in self.sent]

    @property
    def calls(self) -> list[str]:
        """``METHOD path`` of every request, with the account prefix cut off."""
        return [f"{r.method} {urlsplit(r.url).path.removeprefix(BASE)}" for r in self.sent]

    def query(self, index: int) -> dict[str, list[str]]:
        """The query parameters of request ``index``."""
        return parse_qs(urlsplit(self.sent[index].url).query)

    def body(self, index: int) -> Any:
        """The JSON body of request ``index``."""
        raw = self.sent[index].body
        return json.loads(raw) if raw else None


class FakeClock:
    """Monotonic and wall time that only move when something sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def wall(self) -> float:
        """Epoch seconds."""
        return WALL_START + self.now

    def sleep(self, seconds: float) -> None:
        """Record the wait and move time on."""
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


def scripted_client(
    steps: Iterable[Step], **options: Any
) -> tuple[MmsClient, ScriptedWire, FakeClock]:
    """A client over a scripted wire and a fake clock."""
    wire = ScriptedWire(steps)
    clock = FakeClock()
    client = MmsClient(
        HOST,
        "s",
        "r",
        "a",
        options.pop("credential", TOKEN),
        transport=wire,
        monotonic=clock,
        wall_clock=clock.wall,
        sleep=clock.sleep,
        rng=random.Random(0),
        **options,
    )
    return client, wire, clock
