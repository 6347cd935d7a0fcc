"""Request framing and body limits, over raw sockets to a real emulator.

The limit counts the bytes that arrive, not what a header claims; framing that could be
read two ways (RFC 9112 §6.3) is a 400 that closes the connection, whether the app or the
HTTP parser under it refuses it; every such answer is in the seed's error shape with an
``x-ms-request-id``. On MMS paths, the emulator's control routes and scoring URIs alike.
"""

from __future__ import annotations

import contextlib
import json
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from mms_pulumi.emulator.framing import framing_problem
from mms_pulumi.emulator.process import EmulatorProcess
from tests.emulator.conftest import Api

TOKEN = "framing-token"
LIMIT = 64 * 1024
pytestmark = pytest.mark.emulator(operation_seconds=0.05, token=TOKEN, max_body_bytes=LIMIT)


@pytest.fixture
def api(emulator: EmulatorProcess) -> Api:
    return Api(emulator.base_url, "framing", token=TOKEN)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    closed: bool


def _exchange(api: Api, head: str, body: bytes = b"") -> Answer:
    """Send raw bytes and read the answer; ``closed`` says whether the server hung up."""
    parts = urlsplit(api.base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as conn:
        # The server may answer and close before taking the whole body.
        with contextlib.suppress(OSError):
            conn.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        received = b""
        closed = False
        while b"\r\n\r\n" not in received:
            chunk = conn.recv(65536)
            if not chunk:
                break
            received += chunk
        header_text, _, rest = received.partition(b"\r\n\r\n")
        lines = header_text.decode("latin-1").split("\r\n")
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines[1:])
        }
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            chunk = conn.recv(65536)
            if not chunk:
                break
            rest += chunk
        try:
            while conn.recv(65536):
                pass
            closed = True
        except ConnectionResetError:
            closed = True
    return Answer(int(lines[0].split()[1]), headers, rest[:length], closed)


def _seed_error(answer: Answer, status: int) -> dict[str, object]:
    assert answer.status == status, answer
    assert answer.headers.get("x-ms-request-id"), answer.headers
    body: dict[str, object] = json.loads(answer.body)
    assert set(body) >= {"code", "message", "statusCode"} and body["statusCode"] == status
    assert answer.closed, "the connection must close: the rest of the request is unread"
    return body


PATHS = {
    "mms": "/api/subscriptions/s/resourceGroups/r/hostingAccounts/framing/models"
    "?api-version=2017-06-01-privatepreview",
    "control": "/_emulator/faults",
    "scoring": "/api/v1/service/nope/score",
}


def _head(api: Api, path: str, *headers: str) -> str:
    host = urlsplit(api.base_url).netloc
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", f"Authorization: Bearer {TOKEN}"]
    return "\n".join([*lines, "Content-Type: application/json", *headers, ""])


def _chunked(payload: bytes) -> bytes:
    return f"{len(payload):x}\r\n".encode() + payload + b"\r\n0\r\n\r\n"


@pytest.mark.parametrize("path", PATHS.values(), ids=PATHS.keys())
def test_a_short_content_length_beside_chunked_is_refused_and_nothing_stored(
    api: Api, path: str
) -> None:
    big = json.dumps({"name": "smuggled", "url": "file:///m", "x": "a" * (3 * LIMIT)})
    head = _head(api, path, "Content-Length: 5", "Transfer-Encoding: chunked")
    body = _seed_error(_exchange(api, head, _chunked(big.encode())), 400)
    assert "Transfer-Encoding and Content-Length" in str(body["message"])
    assert api.call("GET", "models").json() == []  # 2017-06 lists are bare arrays


@pytest.mark.parametrize("path", PATHS.values(), ids=PATHS.keys())
def test_a_chunked_body_past_the_limit_is_counted_and_refused(api: Api, path: str) -> None:
    payload = json.dumps({"name": "big", "x": "a" * (2 * LIMIT)}).encode()
    head = _head(api, path, "Transfer-Encoding: chunked")
    _seed_error(_exchange(api, head, _chunked(payload)), 413)


@pytest.mark.parametrize("path", PATHS.values(), ids=PATHS.keys())
def test_a_declared_length_past_the_limit_is_refused_before_the_body(api: Api, path: str) -> None:
    head = _head(api, path, f"Content-Length: {LIMIT + 1}")
    _seed_error(_exchange(api, head, b"{"), 413)


@pytest.mark.parametrize(
    "framing",
    [
        ["Content-Length: 5", "Content-Length: 6"],
        ["Content-Length: 5, 6"],
        ["Content-Length: -1"],
        ["Content-Length: +5"],
        ["Transfer-Encoding: gzip"],
        ["Transfer-Encoding: chunked", "Transfer-Encoding: chunked"],
    ],
    ids=["two lengths", "a list", "negative", "signed", "not chunked", "two encodings"],
)
def test_framing_the_parser_refuses_is_answered_in_the_seed_shape(
    api: Api, framing: list[str]
) -> None:
    head = _head(api, PATHS["mms"], *framing)
    answer = _exchange(api, head, b'{"name": "x"}')
    assert answer.status in (400, 501)
    _seed_error(answer, answer.status)


def test_a_malformed_chunk_is_answered_in_the_seed_shape(api: Api) -> None:
    head = _head(api, PATHS["mms"], "Transfer-Encoding: chunked")
    _seed_error(_exchange(api, head, b"zz\r\n{}\r\n0\r\n\r\n"), 400)


def test_a_plain_body_within_the_limit_still_works(api: Api) -> None:
    body = json.dumps({"name": "fine", "url": "file:///m.json", "mimeType": "application/json"})
    head = _head(api, PATHS["mms"], f"Content-Length: {len(body)}", "Connection: close")
    answer = _exchange(api, head, body.encode())
    assert answer.status == 200, answer


@pytest.mark.parametrize(
    ("headers", "problem"),
    [
        ([(b"content-length", b"5")], None),
        ([(b"transfer-encoding", b"chunked")], None),
        ([(b"content-length", b"5"), (b"Transfer-Encoding", b"chunked")], "both"),
        ([(b"content-length", b"5"), (b"content-length", b"6")], "disagree"),
        ([(b"content-length", b"5"), (b"content-length", b"5")], None),
        ([(b"content-length", b"\xd9\xa5")], "not a number"),  # an Arabic-Indic five
        ([(b"content-length", b"0x10")], "not a number"),
    ],
)
def test_framing_rules(headers: list[tuple[bytes, bytes]], problem: str | None) -> None:
    found = framing_problem(headers)
    assert (found is None) if problem is None else (problem in (found or ""))
