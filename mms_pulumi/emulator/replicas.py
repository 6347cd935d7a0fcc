"""Calls from the emulator to its scoring processes: HTTP/1.1 over pooled keep-alive
connections, on the event loop.

A scoring process is ours (``scoring.server``): it always answers with a
``Content-Length``, so an exchange is one write of the request and two reads of the
answer, with no thread hand-off and no new TCP connection per call. A connection the
process closed while it sat idle in the pool (the process stopped or was replaced) failed
before any byte of an answer came back, so the request was never read: it is sent again on
a fresh connection. Any other failure is the caller's to report (``ReplicaFailure``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from enum import Enum

# How long a call waits for a scoring process's answer (then 504: the driver hangs).
CALL_TIMEOUT_SECONDS = 60.0
# Idle connections kept per scoring process; more are closed once answered.
POOL_SIZE = 64
MAX_HEAD_BYTES = 64 * 1024


class Failure(Enum):
    """Why a call to a scoring process has no answer."""

    REFUSED = "refused"  # nothing listens on the port (replaced, restarting)
    TIMEOUT = "timeout"  # no answer within the timeout (a hung driver)
    DROPPED = "dropped"  # the connection ended before a whole answer (a crash)


class ReplicaFailure(Exception):
    """A call to a scoring process that got no answer, and why."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.value)
        self.failure = failure


@dataclass(frozen=True)
class Answer:
    """A scoring process's answer."""

    status: int
    content_type: str
    body: bytes


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    reused: bool = False

    def usable(self) -> bool:
        return not self.reader.at_eof() and not self.writer.is_closing()

    def close(self) -> None:
        self.writer.close()


def request_head(method: str, path: str, length: int) -> bytes:
    """The request line and headers of a call (pure)."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {length}"]
    if length:
        lines.append("Content-Type: application/json")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    """The status and headers (lower-cased names) of an answer's head (pure); ``ValueError``
    for one that is not HTTP/1.x."""
    lines = head.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    if not version.startswith("HTTP/1."):
        raise ValueError(f"not an HTTP/1.x answer: {lines[0][:40]!r}")
    status = int(rest.split(" ", 1)[0])
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return status, headers


def keeps_alive(headers: dict[str, str]) -> bool:
    """Whether the process keeps the connection open after this answer (pure)."""
    return headers.get("connection", "").lower() != "close"


@dataclass
class ReplicaClient:
    """Pooled connections to the scoring processes on loopback, by port."""

    timeout: float = CALL_TIMEOUT_SECONDS
    _idle: dict[int, list[_Connection]] = field(default_factory=dict)

    async def call(self, port: int, method: str, path: str, body: bytes) -> Answer:
        """One call; ``ReplicaFailure`` when it gets no answer. A pooled connection found
        closed is replaced by a fresh one, once."""
        while True:
            connection = await self._connection(port)
            try:
                return await self._exchange(port, connection, method, path, body)
            except _Stale:
                continue  # the process closed it while idle: the request was not read

    async def _connection(self, port: int) -> _Connection:
        idle = self._idle.get(port)
        while idle:
            connection = idle.pop()
            if connection.usable():
                connection.reused = True
                return connection
            connection.close()
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", port, limit=MAX_HEAD_BYTES), self.timeout
            )
        except ConnectionRefusedError:
            raise ReplicaFailure(Failure.REFUSED) from None
        except TimeoutError:
            raise ReplicaFailure(Failure.TIMEOUT) from None
        except OSError:
            raise ReplicaFailure(Failure.DROPPED) from None
        return _Connection(reader, writer)

    async def _exchange(
        self, port: int, connection: _Connection, method: str, path: str, body: bytes
    ) -> Answer:
        received = False
        try:
            async with asyncio.timeout(self.timeout):
                connection.writer.write(request_head(method, path, len(body)) + body)
                await connection.writer.drain()
                head = await connection.reader.readuntil(b"\r\n\r\n")
                received = True
                status, headers = parse_head(head[:-4])
                content = await connection.reader.readexactly(
                    int(headers.get("content-length", "0"))
                )
        except TimeoutError:
            connection.close()
            raise ReplicaFailure(Failure.TIMEOUT) from None
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, OSError):
            connection.close()
            if connection.reused and not received:
                raise _Stale from None
            raise ReplicaFailure(Failure.DROPPED) from None
        except BaseException:
            connection.close()  # cancelled (the caller went away): the answer is lost
            raise
        if keeps_alive(headers):
            self._keep(port, connection)
        else:
            connection.close()
        return Answer(status, headers.get("content-type", "application/json"), content)

    def _keep(self, port: int, connection: _Connection) -> None:
        idle = self._idle.setdefault(port, [])
        if len(idle) < POOL_SIZE:
            idle.append(connection)
        else:
            connection.close()

    def forget(self, port: int) -> None:
        """Close the idle connections to a process that is gone."""
        for connection in self._idle.pop(port, []):
            connection.close()

    def close(self) -> None:
        """Close every idle connection."""
        for port in list(self._idle):
            self.forget(port)


class _Stale(Exception):
    """A pooled connection the process had closed: nothing of the request was read."""
