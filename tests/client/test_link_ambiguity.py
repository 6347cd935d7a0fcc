"""Links whose destination two URL parsers disagree on never carry the token anywhere.

The rule is pure (``client._urls.sent_origin``) and tested as such; then each link the
client follows (``nextLink``, ``Operation-Location``, ``resourceLocation``, a 3xx
``Location``) is tried with ambiguous spellings, scripted and over real loopback sockets,
where a second server records whatever reaches it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from mms_pulumi.client import MmsClient
from mms_pulumi.client._urls import AmbiguousUrlError, Origin, endpoint_problem, sent_origin
from mms_pulumi.errors import ForeignOriginError
from mms_pulumi.resources._smoke import scoring_uri_problem
from tests.client.scripted import (
    BASE,
    IMAGE_REQUEST,
    TOKEN,
    answer,
    model_body,
    operation_body,
    scripted_client,
)

MMS = "http://mms.invalid"

AMBIGUOUS = {
    "backslash before userinfo": "http://127.0.0.1:9\\@mms.invalid/x",
    "backslash as a separator": "http://mms.invalid\\.evil.invalid/x",
    "userinfo": "http://mms.invalid@evil.invalid/x",
    "userinfo that looks like the host": "http://mms.invalid:80@evil.invalid/x",
    "empty userinfo": "http://@mms.invalid/x",
    "a tab in the host": "http://mms.inva\tlid/x",
    "a space": "http://mms.invalid /x",
    "a newline": "http://mms.invalid/x\r\nHost: evil.invalid",
    "a NUL": "http://mms.invalid\x00.evil.invalid/x",
    "a C1 control": "http://mms.invalid/\x85x",
    "non-ASCII host (IDNA)": "http://mms.invalid\u3002evil.invalid/x",
    "fullwidth dot": "http://mms\uff0einvalid/x",
    "a stray percent": "http://mms.invalid/%zz",
    "a percent-encoded host": "http://mms%2einvalid/x",
    "an IPv6 zone id": "http://[fe80::1%25eth0]:80/x",
    "an unbracketed IPv6 host": "http://::1/x",
    "two ports": "http://mms.invalid:80:81/x",
    "a port with a leading zero": "http://mms.invalid:080/x",
    "an empty port": "http://mms.invalid:/x",
    "a port past 65535": "http://mms.invalid:65616/x",
    "a signed port": "http://mms.invalid:+80/x",
    "no host": "http:///x",
    "another scheme": "file:///etc/passwd",
    "scheme-relative": "//evil.invalid/x",
}


@pytest.mark.parametrize("url", AMBIGUOUS.values(), ids=AMBIGUOUS.keys())
def test_an_ambiguous_url_is_refused_and_not_repeated(url: str) -> None:
    with pytest.raises(AmbiguousUrlError) as refused:
        sent_origin(url)
    assert "evil" not in str(refused.value)


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("http://mms.invalid/x", Origin("http", "mms.invalid", 80)),
        ("HTTP://MMS.Invalid/x", Origin("http", "mms.invalid", 80)),  # case: one origin
        ("http://mms.invalid:80/x", Origin("http", "mms.invalid", 80)),  # the default port
        ("https://mms.invalid/x?a=%2F", Origin("https", "mms.invalid", 443)),
        ("http://127.0.0.1:5080/api", Origin("http", "127.0.0.1", 5080)),
        ("http://[::1]:5080/api", Origin("http", "::1", 5080)),
    ],
)
def test_plain_urls_give_the_origin_requests_connects_to(url: str, origin: Origin) -> None:
    assert sent_origin(url) == origin


def test_an_endpoint_is_held_to_the_same_rule() -> None:
    assert endpoint_problem("http://127.0.0.1:5080") is None
    assert "backslash" in (endpoint_problem("http://127.0.0.1:1\\/x") or "")
    assert endpoint_problem("http://127.0.0.1:1\\@127.0.0.1:2") is not None
    with pytest.raises(ValueError, match=r"endpoint must be a plain http\(s\) URL"):
        MmsClient("http://mms.invalid:080", "s", "r", "a", TOKEN)


def test_a_scoring_uri_is_held_to_the_same_rule() -> None:
    local = "http://127.0.0.1:5080"
    assert scoring_uri_problem("http://127.0.0.1:9/score", local) is None
    sneaky = "http://127.0.0.1:9\\@evil.invalid/score"
    assert "cannot be called safely" in (scoring_uri_problem(sneaky, local) or "")
    assert "not on this machine" in (scoring_uri_problem("http://evil.invalid/s", local) or "")


LINKS = [
    "http://127.0.0.1:9\\@mms.invalid/api/x",
    "http://evil.invalid\\@mms.invalid/api/x",
    "http://mms.invalid@evil.invalid/api/x",
    "http://mms.invalid%2f@evil.invalid/api/x",
    "http://mms.invalid:80%2f@evil.invalid/api/x",
]


@pytest.mark.parametrize("link", LINKS)
def test_a_next_link_that_reads_two_ways_gets_nothing(link: str) -> None:
    page = {"value": [model_body()], "nextLink": link}
    mms, wire, _ = scripted_client([answer(200, page)])
    with pytest.raises(ForeignOriginError, match="more than one destination"):
        mms.list_models()
    assert len(wire.sent) == 1


@pytest.mark.parametrize("link", LINKS)
def test_an_operation_location_that_reads_two_ways_gets_nothing(link: str) -> None:
    mms, wire, _ = scripted_client([answer(202, headers={"Operation-Location": link})])
    with pytest.raises(ForeignOriginError):
        mms.begin_create_image(IMAGE_REQUEST).result(timeout=5)
    assert len(wire.sent) == 1


@pytest.mark.parametrize("link", LINKS)
def test_a_resource_location_that_reads_two_ways_gets_nothing(link: str) -> None:
    accepted = answer(202, headers={"Operation-Location": f"{BASE}/operations/op1"})
    done = answer(200, operation_body("Succeeded", resourceLocation=link))
    mms, wire, _ = scripted_client([accepted, done])
    with pytest.raises(ForeignOriginError):
        mms.begin_create_image(IMAGE_REQUEST).result(timeout=5)
    assert len(wire.sent) == 2


@pytest.mark.parametrize("link", LINKS)
def test_a_redirect_that_reads_two_ways_gets_nothing(link: str) -> None:
    mms, wire, _ = scripted_client([answer(307, headers={"Location": link})])
    with pytest.raises(ForeignOriginError):
        mms.list_models()
    assert len(wire.sent) == 1


class _Recorder(BaseHTTPRequestHandler):
    """Records every request line and Authorization header; answers as ``answer`` says."""

    seen: list[tuple[str, str | None]]
    reply: Callable[[BaseHTTPRequestHandler], None]

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("Authorization")))
        type(self).reply(self)

    do_POST = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _serve(
    reply: Callable[[BaseHTTPRequestHandler], None],
) -> tuple[ThreadingHTTPServer, list[tuple[str, str | None]]]:
    seen: list[tuple[str, str | None]] = []
    handler = type("Handler", (_Recorder,), {"seen": seen, "reply": staticmethod(reply)})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen


def _json(handler: BaseHTTPRequestHandler, status: int, body: bytes, **headers: str) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)


@pytest.fixture
def attacker() -> Iterator[tuple[int, list[tuple[str, str | None]]]]:
    server, seen = _serve(lambda handler: _json(handler, 200, b'{"value": []}'))
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("where", ["nextLink", "Location"])
def test_over_real_sockets_the_other_port_never_hears_from_the_client(
    attacker: tuple[int, list[tuple[str, str | None]]], where: str
) -> None:
    other, stolen = attacker
    port: list[int] = []

    def mms_reply(handler: BaseHTTPRequestHandler) -> None:
        link = f"http://127.0.0.1:{other}\\@127.0.0.1:{port[0]}{BASE}/models?page=2"
        if where == "Location":
            _json(handler, 307, b"", Location=link)
        else:
            _json(
                handler,
                200,
                f'{{"value": [], "nextLink": "{link}"}}'.replace("\\", "\\\\").encode(),
            )

    server, seen = _serve(mms_reply)
    port.append(server.server_address[1])
    try:
        mms = MmsClient(f"http://127.0.0.1:{port[0]}", "s", "r", "a", TOKEN)
        with pytest.raises(ForeignOriginError):
            mms.list_models()
        mms.close()
    finally:
        server.shutdown()
        server.server_close()
    assert len(seen) == 1 and seen[0][1] == f"Bearer {TOKEN}"
    assert stolen == []
