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
from http import HTTPStatus

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from mms_pulumi.emulator.errors import ApiError
from mms_pulumi.emulator.middleware import REQUEST_ID


def closing_answer(error: ApiError) -> bytes:
    """The whole HTTP answer for ``error``, in the seed's shape with a request id, that
    closes the connection: what the server writes itself, with no app to answer."""
    body = json.dumps(error.body()).encode()
    reason = HTTPStatus(error.status).phrase
    head = (
        f"HTTP/1.1 {error.status} {reason}\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n"
        f"{REQUEST_ID}: {uuid.uuid4()}\r\n\r\n"
    )
    return head.encode("ascii") + body


class SeedErrorH11Protocol(H11Protocol):
    """uvicorn's h11 protocol whose answer to an unparseable request is a seed error."""

    def send_400_response(self, msg: str) -> None:
        error = ApiError(400, f"The request is not valid HTTP/1.1 and was not read ({msg})")
        self.transport.write(closing_answer(error))
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
