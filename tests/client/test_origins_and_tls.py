"""Secrets go only to the configured origin, and TLS failures say what happened.

Scripted transport for links and redirects; real sockets on loopback for TLS (a server
that never finishes the handshake, and one whose certificate nobody trusts).
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import trustme

from mms_pulumi.client import MmsClient
from mms_pulumi.errors import ForeignOriginError, RequestNotSentError
from tests.client.scripted import (
    BASE,
    HOST,
    IMAGE_REQUEST,
    PASSWORD,
    TOKEN,
    answer,
    model_body,
    scripted_client,
)

ELSEWHERE = "http://attacker.invalid"


def test_a_next_link_to_another_origin_is_refused_and_gets_no_token() -> None:
    page = {"value": [model_body()], "nextLink": f"{ELSEWHERE}{BASE}/models?page=2"}
    mms, wire, _ = scripted_client([answer(200, page)])
    with pytest.raises(ForeignOriginError, match=r"attacker\.invalid"):
        mms.list_models()
    assert [r.url for r in wire.sent if "attacker" in (r.url or "")] == []


@pytest.mark.parametrize("location", [f"{ELSEWHERE}{BASE}/operations/op1", "https://mms.invalid/x"])
def test_an_operation_location_on_another_origin_is_refused(location: str) -> None:
    mms, wire, _ = scripted_client([answer(202, headers={"Operation-Location": location})])
    poller = mms.begin_create_image(IMAGE_REQUEST)
    with pytest.raises(ForeignOriginError):
        poller.result(timeout=5)
    assert len(wire.sent) == 1  # only the POST, to the endpoint


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_to_another_origin_is_refused_and_the_body_not_resent(status: int) -> None:
    redirect = answer(status, headers={"Location": f"{ELSEWHERE}/steal"})
    mms, wire, _ = scripted_client([redirect])
    with pytest.raises(ForeignOriginError):
        mms.begin_create_image(IMAGE_REQUEST)
    assert len(wire.sent) == 1
    assert all(PASSWORD not in str(r.body) for r in wire.sent[1:])


def test_a_same_origin_307_is_followed_with_the_same_method_and_body() -> None:
    moved = answer(307, headers={"Location": f"{BASE}/models-moved"})
    mms, wire, _ = scripted_client([moved, answer(200, model_body())])
    assert mms.register_model({"name": "m", "url": "file:///m", "mime_type": "a/b"}).id == "m1"
    assert wire.calls == ["POST /models", "POST /models-moved"]
    assert wire.body(1)["name"] == "m"
    assert wire.sent[1].headers["Authorization"] == f"Bearer {TOKEN}"


def test_an_endpoint_with_a_user_and_password_is_refused_without_echoing_them() -> None:
    with pytest.raises(ValueError, match="must not carry a user name or password") as refused:
        MmsClient("https://admin:hunter2@mms.invalid", "s", "r", "a", TOKEN)
    assert "hunter2" not in str(refused.value)
    assert HOST.startswith("http://")  # the scripted host stays a plain origin


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts connections and never says a word: the TLS handshake never completes."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(timeout=5)
    for connection in held:
        connection.close()
    listener.close()


def test_a_stalled_tls_handshake_is_not_sent_rather_than_outcome_unknown(
    silent_server: int,
) -> None:
    with (
        MmsClient(
            f"https://127.0.0.1:{silent_server}",
            "s",
            "r",
            "a",
            TOKEN,
            connect_timeout=0.3,
            read_timeout=0.3,
            max_retries=1,
            retry_backoff_factor=0.01,
        ) as mms,
        pytest.raises(RequestNotSentError, match="TLS handshake did not complete"),
    ):
        mms.register_model({"name": "m", "url": "file:///m", "mime_type": "a/b"})


@pytest.fixture
def untrusted_server() -> Iterator[int]:
    """A TLS server whose certificate is signed by a CA nobody trusts."""
    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    stop = threading.Event()
    handshakes: list[Any] = []

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                raw = listener.accept()[0]
            except OSError:
                continue
            try:
                with context.wrap_socket(raw, server_side=True):
                    pass
            except (ssl.SSLError, OSError) as err:
                handshakes.append(err)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(timeout=5)
    listener.close()


def test_an_untrusted_certificate_fails_at_once_and_says_it_is_not_retried(
    untrusted_server: int,
) -> None:
    with (
        MmsClient(
            f"https://127.0.0.1:{untrusted_server}",
            "s",
            "r",
            "a",
            TOKEN,
            max_retries=5,
        ) as mms,
        pytest.raises(RequestNotSentError, match="not retried") as failed,
    ):
        mms.get_model("m1")
    assert "certificate" in str(failed.value)
    assert TOKEN not in str(failed.value)
