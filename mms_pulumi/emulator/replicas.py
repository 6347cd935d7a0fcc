"""The emulator's side of its scoring processes: the link to each (``Replica``), and its
own calls to them (``ReplicaClient``), those its own port's scoring road forwards.

A call the emulator makes goes over a connection it hands the replica itself: one end of
a socket pair, through the link, as the scoring port hands a caller's (``handoff``). The
replica applies the emulator's rules to it as to any other, so the call carries the
caller's ``Authorization``. A scoring process always answers with a ``Content-Length``, so
an exchange is one write of the request, and the answer completes a future once it is all
in: no thread hand-off, no task, no new connection per call. A connection the process
closed while it sat idle in the pool (it stopped or was replaced) failed before any byte
of an answer came back, so the request was never read: it is sent again on a fresh one.
Any other failure is the caller's to report (``ReplicaFailure``).
"""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import dataclass, field
from enum import Enum
from typing import cast

from mms_pulumi.emulator.handoff import NO_SLOT, BusyTable, Kind, LinkClosed, send_record

# How long a call waits for the driver's answer (then 504: the driver hangs), on either
# road: the emulator's forwarded call, and the replica's own.
CALL_TIMEOUT_SECONDS = 60.0
# Idle connections kept per scoring process; more are closed once answered.
POOL_SIZE = 64
MAX_HEAD_BYTES = 64 * 1024


class Failure(Enum):
    """Why a call to a scoring process has no answer."""

    REFUSED = "refused"  # the process is gone (replaced, restarting)
    TIMEOUT = "timeout"  # no answer within the timeout (a hung driver)
    DROPPED = "dropped"  # the connection ended before a whole answer (a crash)


class ReplicaFailure(Exception):
    """A call to a scoring process that got no answer, and why."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.value)
        self.failure = failure


@dataclass(eq=False)
class Replica:
    """The emulator's link to one scoring process, and the busy table they share."""

    link: socket.socket
    busy: BusyTable
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def hand(self, connection: socket.socket, slot: int) -> None:
        """Hand the process a connection to serve (``slot`` in the busy table, or
        ``NO_SLOT`` for one of the emulator's own); ``LinkClosed`` when it is gone,
        ``LinkBusy`` when it cannot take one now."""
        with self._lock:  # the scoring port's thread and the event loop both hand over
            # Never waiting: a replica whose driver runs reads nothing, and the link holds
            # a few hundred records (then ``LinkBusy``: the caller is served otherwise).
            send_record(self.link, Kind.CONNECTION, slot, connection.fileno(), wait=False)

    def connect(self) -> socket.socket:
        """A new connection to the process, of the emulator's own: one end of a socket
        pair, the other handed over; ``LinkClosed`` when it is gone."""
        ours, theirs = socket.socketpair()
        try:
            self.hand(theirs, NO_SLOT)
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        return ours

    def close(self) -> None:
        """Close the link (the process then stops) and the table."""
        self.link.close()
        self.busy.close()


@dataclass(frozen=True)
class Answer:
    """A scoring process's answer."""

    status: int
    content_type: str
    body: bytes


class _Connection(asyncio.Protocol):
    """One keep-alive connection to a scoring process, as an asyncio protocol: a call is one
    write, and the answer completes a future once its head and ``Content-Length`` bytes are
    in (no stream reader, no task in between)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.reused = False
        self._buffer = bytearray()
        # Once the head is in: status, headers, where the body starts, its length.
        self._head: tuple[int, dict[str, str], int, int] | None = None
        self._answer: asyncio.Future[tuple[int, dict[str, str], bytes]] | None = None
        self._lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """The protocol's hook: the connection is open."""
        # A stream transport (uvloop's is not an ``asyncio.Transport`` subclass, but is one).
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        """The protocol's hook: answer bytes arrived."""
        if self._answer is None or self._answer.done():
            self.close()  # bytes nobody asked for: the connection cannot be trusted now
            return
        self._buffer += data
        try:
            answer = self._complete()
        except ValueError as err:
            self._answer.set_exception(_Broken(received=True, reason=str(err)))
            self.close()
            return
        if answer is not None:
            self._answer.set_result(answer)

    def connection_lost(self, exc: Exception | None) -> None:
        """The protocol's hook: the connection ended."""
        self._lost = True
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(_Broken(received=bool(self._buffer), reason="closed"))

    def usable(self) -> bool:
        """Whether the connection may carry another call."""
        return not self._lost and self.transport is not None and not self.transport.is_closing()

    def close(self) -> None:
        """Close the connection (any answer still awaited fails)."""
        if self.transport is not None:
            self.transport.close()

    def send(self, request: bytes) -> asyncio.Future[tuple[int, dict[str, str], bytes]]:
        """Write one call; the future of its answer (status, headers, body)."""
        assert self.transport is not None
        self._buffer.clear()
        self._head = None
        self._answer = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self._answer

    def _complete(self) -> tuple[int, dict[str, str], bytes] | None:
        """The whole answer once it is in the buffer, else ``None``; ``ValueError`` for one
        that is not HTTP/1.x or whose head is over ``MAX_HEAD_BYTES``."""
        if self._head is None:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > MAX_HEAD_BYTES:
                    raise ValueError("the answer's head is too large")
                return None
            status, headers = parse_head(bytes(self._buffer[:end]))
            self._head = (status, headers, end + 4, int(headers.get("content-length", "0")))
        status, headers, start, length = self._head
        if len(self._buffer) - start < length:
            return None
        if len(self._buffer) - start > length:
            raise ValueError("the answer has bytes past its Content-Length")
        return status, headers, bytes(self._buffer[start:])


def request_head(method: str, path: str, length: int, authorization: str | None) -> bytes:
    """The request line and headers of a call (pure); ``authorization`` is the caller's,
    as the replica checks it again."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {length}"]
    if authorization is not None:
        lines.append(f"Authorization: {authorization}")
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
    """Pooled connections to the scoring processes, by replica."""

    timeout: float = CALL_TIMEOUT_SECONDS
    _idle: dict[Replica, list[_Connection]] = field(default_factory=dict)

    async def call(
        self,
        replica: Replica,
        method: str,
        path: str,
        body: bytes,
        authorization: str | None = None,
    ) -> Answer:
        """One call; ``ReplicaFailure`` when it gets no answer. A pooled connection found
        closed is replaced by a fresh one, once."""
        request = request_head(method, path, len(body), authorization) + body
        while True:
            connection = await self._connection(replica)
            try:
                return await self._exchange(replica, connection, request)
            except _Stale:
                continue  # the process closed it while idle: the request was not read

    async def _connection(self, replica: Replica) -> _Connection:
        idle = self._idle.get(replica)
        while idle:
            connection = idle.pop()
            if connection.usable():
                connection.reused = True
                return connection
            connection.close()
        try:
            ours = replica.connect()
        except LinkClosed:
            raise ReplicaFailure(Failure.REFUSED) from None
        loop = asyncio.get_running_loop()
        try:
            _, connection = await loop.create_unix_connection(_Connection, sock=ours)
        except OSError:
            ours.close()
            raise ReplicaFailure(Failure.DROPPED) from None
        return connection

    async def _exchange(self, replica: Replica, connection: _Connection, request: bytes) -> Answer:
        answer = connection.send(request)
        expiry = asyncio.get_running_loop().call_later(self.timeout, _expire, answer)
        try:
            status, headers, content = await answer
        except TimeoutError:
            connection.close()
            raise ReplicaFailure(Failure.TIMEOUT) from None
        except _Broken as broken:
            connection.close()
            if connection.reused and not broken.received:
                raise _Stale from None
            raise ReplicaFailure(Failure.DROPPED) from None
        except BaseException:
            connection.close()  # cancelled (the caller went away): the answer is lost
            raise
        finally:
            expiry.cancel()
        if keeps_alive(headers):
            self._keep(replica, connection)
        else:
            connection.close()
        return Answer(status, headers.get("content-type", "application/json"), content)

    def _keep(self, replica: Replica, connection: _Connection) -> None:
        idle = self._idle.setdefault(replica, [])
        if len(idle) < POOL_SIZE:
            idle.append(connection)
        else:
            connection.close()

    def forget(self, replica: Replica) -> None:
        """Close the idle connections to a process that is gone."""
        for connection in self._idle.pop(replica, []):
            connection.close()

    def close(self) -> None:
        """Close every idle connection."""
        for replica in list(self._idle):
            self.forget(replica)


class _Stale(Exception):
    """A pooled connection the process had closed: nothing of the request was read."""


class _Broken(Exception):
    """A connection that ended, or answered what is not HTTP, before a whole answer."""

    def __init__(self, *, received: bool, reason: str) -> None:
        super().__init__(reason)
        self.received = received  # whether any byte of an answer came back


def _expire(answer: asyncio.Future[tuple[int, dict[str, str], bytes]]) -> None:
    if not answer.done():
        answer.set_exception(TimeoutError())
