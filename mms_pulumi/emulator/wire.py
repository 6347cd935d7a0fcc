"""The HTTP/1.1 server: uvicorn's h11 protocol, answering in the seed's shape, and
uvicorn's server, stopping quietly on a signal (the emulator's and its replicas').

Requests h11 cannot parse (differing ``Content-Length`` headers, a malformed chunk, a bad
request line) never reach the app; uvicorn answers them itself with a plain-text 400. This
subclass gives that answer the seed's error body and an ``x-ms-request-id`` like every
other, and still closes the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import threading
import uuid
from collections.abc import Callable, Iterator

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from mms_pulumi.emulator.errors import error_body
from mms_pulumi.emulator.middleware import REQUEST_ID


class SeedErrorH11Protocol(H11Protocol):
    """uvicorn's h11 protocol whose answer to an unparseable request is a seed error."""

    def send_400_response(self, msg: str) -> None:
        body = json.dumps(
            error_body(400, f"The request is not valid HTTP/1.1 and was not read ({msg})")
        ).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
            (REQUEST_ID.encode(), str(uuid.uuid4()).encode()),
        ]
        for event in (
            h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
            h11.Data(data=body),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event) or b"")
        self.transport.close()


_HANDLED = (signal.SIGINT, signal.SIGTERM)


class GracefulServer(uvicorn.Server):
    """A uvicorn server that shuts down gracefully on SIGINT or SIGTERM and then returns,
    so the process exits 0 (uvicorn itself raises the signal again once stopped)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """uvicorn's hook: stop on the signals while serving, on the main thread."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        originals = {sig: signal.signal(sig, self.handle_exit) for sig in _HANDLED}
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)


_serving: set[asyncio.Task[object]] = set()  # a task is kept only while referenced


def serve_accepted(
    loop: asyncio.AbstractEventLoop,
    protocol: Callable[[], asyncio.Protocol],
    connection: socket.socket,
) -> None:
    """Serve a connection accepted elsewhere (handed over) with ``protocol``, on ``loop``."""
    task: asyncio.Task[object] = loop.create_task(
        loop.connect_accepted_socket(protocol, connection)
    )
    _serving.add(task)
    task.add_done_callback(_serving.discard)
