"""A scoring process under a keep-alive client, in-process: every answer leaves in one
write with Nagle off (the second answer on a connection is not held back by a delayed
ACK), and a stop ends connections left waiting for a next request."""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from mms_pulumi.emulator.scoring.server import SECRET_HEADER, ScoringHandler, ScoringServer
from mms_pulumi.emulator.state import SCORING_CONCURRENCY

SECRET = "keep-alive-test-secret"


class EchoDriver:
    """What ``load_driver`` gives, for a driver that echoes."""

    def init(self) -> None:
        pass

    def run(self, data: Any) -> Any:
        return {"echo": data}


class CountingHandler(ScoringHandler):
    """The real handler, noting each write that reaches the socket and Nagle's setting."""

    writes: list[bytes]
    nodelay: list[int]

    def setup(self) -> None:
        super().setup()
        self.nodelay.append(self.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        raw = self.wfile.raw  # type: ignore[attr-defined]
        original = raw.write
        writes = self.writes

        def write(data: bytes) -> int:
            writes.append(bytes(data))
            return int(original(data))

        raw.write = write


@pytest.fixture
def server() -> Iterator[tuple[ScoringServer, list[bytes], list[int]]]:
    writes: list[bytes] = []
    nodelay: list[int] = []
    handler = type("Handler", (CountingHandler,), {"writes": writes, "nodelay": nodelay})
    scoring = ScoringServer(("127.0.0.1", 0), EchoDriver(), None, secret=SECRET)  # type: ignore[arg-type]
    scoring.RequestHandlerClass = handler
    thread = threading.Thread(target=scoring.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield scoring, writes, nodelay
    finally:
        scoring.shutdown()
        scoring.close_idle()
        scoring.server_close()
        thread.join(timeout=30)
        assert not thread.is_alive()


def test_every_answer_on_a_kept_alive_connection_is_one_write_with_nagle_off(
    server: tuple[ScoringServer, list[bytes], list[int]],
) -> None:
    scoring, writes, nodelay = server
    client = http.client.HTTPConnection("127.0.0.1", scoring.server_address[1], timeout=30)
    for n in range(3):
        client.request("POST", "/score", body=b'{"n": %d}' % n, headers={SECRET_HEADER: SECRET})
        answer = client.getresponse()
        assert answer.status == 200 and answer.read() == b'{"echo": {"n": %d}}' % n
    client.close()
    assert nodelay == [1]  # one connection, kept alive for all three
    assert len(writes) == 3
    for n, write in enumerate(writes):
        head, _, body = write.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and body == b'{"echo": {"n": %d}}' % n


def test_a_stop_ends_a_connection_waiting_for_its_next_request(
    server: tuple[ScoringServer, list[bytes], list[int]],
) -> None:
    scoring, _, _ = server
    client = socket.create_connection(("127.0.0.1", scoring.server_address[1]), timeout=30)
    client.sendall(
        b"POST /score HTTP/1.1\r\nHost: x\r\n%s: %s\r\nContent-Length: 2\r\n\r\n{}"
        % (SECRET_HEADER.encode(), SECRET.encode())
    )
    answer = b""
    while not answer.endswith(b'{"echo": {}}'):
        answer += client.recv(4096)
    # The connection now waits, idle, for a next request that never comes.
    scoring.shutdown()
    scoring.close_idle()
    assert client.recv(4096) == b""  # closed by the server, not left hanging
    client.close()


def test_the_listen_backlog_takes_every_scoring_slot_connecting_at_once() -> None:
    # Fewer, and the connections past the backlog lose their SYN and retry a second later.
    assert ScoringServer.request_queue_size >= SCORING_CONCURRENCY
