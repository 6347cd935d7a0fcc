"""A hostile or broken service cannot hang the client, exhaust its memory, crash it with a
raw exception, or make it repeat a secret.

Scripted transport for bodies and links; real sockets on loopback for bodies that drip,
swell or expand.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from requests.structures import CaseInsensitiveDict

from mms_pulumi.client import HttpRequest, HttpResponse, MmsClient
from mms_pulumi.errors import CredentialError, MmsError, OutcomeUnknownError
from tests.client.scripted import (
    BASE,
    IMAGE_REQUEST,
    PASSWORD,
    TOKEN,
    answer,
    model_body,
    operation_body,
    scripted_client,
)


def raw_answer(status: int, content: bytes, headers: dict[str, str] | None = None) -> Any:
    def respond(request: HttpRequest) -> HttpResponse:
        return HttpResponse(status, CaseInsensitiveDict(headers or {}), content)

    return respond


def test_json_nested_past_the_stack_is_an_mms_error() -> None:
    nested = b"[" * 100_000 + b"]" * 100_000
    for status in (200, 400):
        mms, _, _ = scripted_client([raw_answer(status, nested)], max_retries=0)
        with pytest.raises(MmsError):
            mms.get_model("m1")


@pytest.mark.parametrize("where", ["Operation-Location", "Location", "nextLink"])
def test_a_link_that_is_not_a_url_is_an_mms_error(where: str) -> None:
    bad = "http://[::1/operations/op1"
    if where == "nextLink":
        mms, wire, _ = scripted_client([answer(200, {"value": [], "nextLink": bad})])
        with pytest.raises(MmsError, match="not a well-formed URL"):
            mms.list_models()
    elif where == "Location":
        mms, wire, _ = scripted_client([answer(307, headers={"Location": bad})])
        with pytest.raises(MmsError, match="not a well-formed URL"):
            mms.get_model("m1")
    else:
        mms, wire, _ = scripted_client([answer(202, headers={"Operation-Location": bad})])
        with pytest.raises(MmsError, match="not a well-formed URL"):
            mms.begin_create_image(IMAGE_REQUEST).result(timeout=5)
    assert len(wire.sent) == 1


def test_next_links_differing_only_in_their_fragment_are_one_page() -> None:
    pages = [
        answer(200, {"value": [model_body()], "nextLink": f"{BASE}/models?page=2#{n}"})
        for n in range(3)
    ]
    mms, wire, _ = scripted_client(pages)
    with pytest.raises(MmsError, match="repeats an earlier page"):
        mms.list_models()
    assert len(wire.sent) == 2


def test_a_listing_of_more_items_than_any_account_holds_stops() -> None:
    page = {"value": [model_body()] * 60_000, "nextLink": f"{BASE}/models?page=2"}
    second = {"value": [model_body()] * 60_000}
    mms, _, _ = scripted_client([answer(200, page), answer(200, second)])
    with pytest.raises(MmsError, match="more than 100000 items"):
        mms.list_models()


def test_an_error_message_quoting_the_token_or_a_password_does_not_repeat_them() -> None:
    echo = {
        "code": "BadRequest",
        "message": f"bad token Bearer {TOKEN}; password {PASSWORD} refused",
        "statusCode": 400,
        "details": [{"code": "InvalidField", "message": f"registryInfo.password: {PASSWORD}"}],
    }
    mms, _, _ = scripted_client([answer(400, echo)], max_retries=0)
    with pytest.raises(MmsError) as refused:
        mms.begin_create_image(IMAGE_REQUEST)
    text = str(refused.value) + repr(refused.value.details)  # type: ignore[attr-defined]
    assert TOKEN not in text and PASSWORD not in text and "***" in text


def test_a_token_with_a_trailing_newline_is_trimmed_and_an_unsendable_one_refused() -> None:
    mms, wire, _ = scripted_client([answer(200, model_body())], credential=f"{TOKEN}\n")
    mms.get_model("m1")
    assert wire.sent[0].headers["Authorization"] == f"Bearer {TOKEN}"
    for bad in (f"{TOKEN}\nX-Injected: 1", f"{TOKEN}\u20ac", f"{TOKEN} {TOKEN}"):
        with pytest.raises(CredentialError, match="cannot carry") as refused:
            MmsClient("http://mms.invalid", "s", "r", "a", bad)
        assert TOKEN not in str(refused.value)


# --- real sockets -----------------------------------------------------------------------------


def _one_answer_server(answer_with: Callable[[socket.socket], None]) -> Iterator[str]:
    """Answers one request per connection (its answers say ``Connection: close``)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                with contextlib.suppress(OSError):
                    answer_with(conn)

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()


def _client(endpoint: str, read_timeout: float = 30.0) -> MmsClient:
    return MmsClient(endpoint, "s", "r", "a", TOKEN, read_timeout=read_timeout, max_retries=0)


@pytest.fixture
def dripping() -> Iterator[str]:
    """Announces 2,000 bytes and sends one every 0.1 s: 200 s in all."""

    def drip(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2000\r\n\r\n")
        for _ in range(2000):
            conn.sendall(b" ")
            if threading.Event().wait(0.1):
                return

    yield from _one_answer_server(drip)


def test_a_body_that_drips_cannot_outlast_the_read_timeout(dripping: str) -> None:
    with pytest.raises(OutcomeUnknownError, match="did not arrive within 1 s"):
        _client(dripping, read_timeout=1.0).get_model("m1")


@pytest.fixture
def swollen() -> Iterator[str]:
    """A 17 MiB body, plain and then gzip-encoded (17 MiB of spaces in about 17 KB)."""
    plain = b"[" + b" " * (17 * 1024 * 1024) + b"]"
    bomb = gzip.compress(plain)
    sent = [0]

    def swell(conn: socket.socket) -> None:
        sent[0] += 1
        if sent[0] == 1:
            head, body = b"", plain
        else:
            head, body = b"Content-Encoding: gzip\r\n", bomb
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nConnection: close\r\n"
            + head
            + b"Content-Length: %d\r\n\r\n" % len(body)
        )
        conn.sendall(body)

    yield from _one_answer_server(swell)


def test_a_body_over_the_limit_is_refused_compressed_or_not(swollen: str) -> None:
    client = _client(swollen)
    for _ in range(2):
        with pytest.raises(OutcomeUnknownError, match="larger than 16 MiB"):
            client.get_model("m1")


def test_a_call_without_a_deadline_still_ends_within_the_call_deadline() -> None:
    busy = answer(503, {"code": "Busy", "message": "busy"}, {"Retry-After": "120"})
    mms, wire, clock = scripted_client([busy] * 11)
    with pytest.raises(MmsError):
        mms.get_model("m1")
    # Two waits of 120 s fit in 300 s; a third would not, so it is not made.
    assert clock.sleeps == [120.0, 120.0] and len(wire.sent) == 3


@pytest.fixture
def gzipping() -> Iterator[str]:
    """A well-behaved service that compresses its answers."""
    body = gzip.compress(json.dumps(model_body()).encode())

    def answer_gzipped(conn: socket.socket) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
            b"Connection: close\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body) + body
        )

    yield from _one_answer_server(answer_gzipped)


def test_a_compressed_answer_is_read_as_before(gzipping: str) -> None:
    client = _client(gzipping)
    assert client.get_model("m1").id == "m1"
    assert client.get_model("m1").name == "churn"


def test_a_resource_location_that_is_not_a_url_is_an_mms_error() -> None:
    accepted = answer(202, headers={"Operation-Location": f"{BASE}/operations/op1"})
    done = answer(200, operation_body("Succeeded", resourceLocation="http://[::1/images/i1"))
    mms, wire, _ = scripted_client([accepted, done])
    with pytest.raises(MmsError, match="not a well-formed URL"):
        mms.begin_create_image(IMAGE_REQUEST).result(timeout=5)
    assert len(wire.sent) == 2
