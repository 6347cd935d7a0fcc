"""The emulator's client of its scoring processes (``ReplicaClient``), against small
replicas in this process that take connections over a link as a scoring process does, and
answer as one does, or break as one might."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import cast

import pytest

from mms_pulumi.emulator.errors import ApiError
from mms_pulumi.emulator.handoff import (
    NO_SLOT,
    BusyTable,
    Kind,
    LinkClosed,
    link_pair,
    receive_record,
)
from mms_pulumi.emulator.replicas import Answer, Failure, Replica, ReplicaClient, ReplicaFailure
from mms_pulumi.emulator.routes.scoring import _forward
from mms_pulumi.emulator.state import Emulator, Slots

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
KEY = "Bearer a-key-of-the-caller"


async def _read_call(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    assert b"\r\nHost: 127.0.0.1\r\n" in head  # a loopback name the replica's rules accept
    assert f"\r\nAuthorization: {KEY}\r\n".encode() in head  # the caller's, passed on
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return await reader.readexactly(length)


@asynccontextmanager
async def _replica(handler: Handler) -> AsyncIterator[Replica]:
    """A replica in this process: each connection handed over its link is served by
    ``handler``."""
    ours, theirs = link_pair()
    busy, descriptor = BusyTable.new()
    os.close(descriptor)
    loop = asyncio.get_running_loop()
    serving: set[asyncio.Task[None]] = set()

    async def serve(connection: socket.socket) -> None:
        reader, writer = await asyncio.open_connection(sock=connection)
        await handler(reader, writer)

    def receive() -> None:
        try:
            kind, slot, handed = receive_record(theirs)
        except LinkClosed:
            loop.remove_reader(theirs.fileno())
            return
        assert kind is Kind.CONNECTION and slot == NO_SLOT and handed is not None
        task = loop.create_task(serve(socket.socket(fileno=handed)))
        serving.add(task)
        task.add_done_callback(serving.discard)

    loop.add_reader(theirs.fileno(), receive)
    try:
        yield Replica(ours, busy)
    finally:
        loop.remove_reader(theirs.fileno())
        theirs.close()
        ours.close()


async def _with_server(handler: Handler, calls: Callable[[Replica], Awaitable[None]]) -> None:
    async with _replica(handler) as replica:
        await calls(replica)


def _failure_of(handler: Handler, *, timeout: float) -> Failure:
    """Why one call to a server answering with ``handler`` failed."""
    failed: list[Failure] = []

    async def calls(replica: Replica) -> None:
        with pytest.raises(ReplicaFailure) as failure:
            await ReplicaClient(timeout=timeout).call(replica, "POST", "/score", b"{}", KEY)
        failed.append(failure.value.failure)

    asyncio.run(_with_server(handler, calls))
    return failed[0]


def test_calls_share_one_kept_alive_connection_and_get_their_own_answers() -> None:
    connections = 0

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while not reader.at_eof():
            try:
                body = await _read_call(reader)
            except asyncio.IncompleteReadError:
                break
            writer.write(OK % (len(body), body))
        writer.close()

    async def calls(replica: Replica) -> None:
        client = ReplicaClient(timeout=30)
        large = b'"' + b"x" * 300_000 + b'"'  # more than one read's worth
        answers = [
            await client.call(replica, "POST", "/score", body, KEY) for body in (b"1", large, b"3")
        ]
        assert answers == [
            Answer(200, "application/json", b"1"),
            Answer(200, "application/json", large),
            Answer(200, "application/json", b"3"),
        ]
        client.close()

    asyncio.run(_with_server(echo, calls))
    assert connections == 1


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",  # then the connection ends
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n12",  # bytes past Content-Length
        b"SSH-2.0-not-http\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-Pad: " + b"p" * 70_000,  # a head with no end in sight
    ],
    ids=["truncated", "overlong", "not-http", "endless-head"],
)
def test_a_broken_answer_is_a_dropped_call(answer: bytes) -> None:
    async def broken(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_call(reader)
        writer.write(answer)
        await writer.drain()
        writer.close()

    assert _failure_of(broken, timeout=30) is Failure.DROPPED


def test_no_answer_within_the_timeout_is_a_timeout() -> None:
    hung = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_call(reader)
        await hung.wait()  # never set: the driver hangs
        writer.close()

    assert _failure_of(silent, timeout=0.2) is Failure.TIMEOUT


def test_a_pooled_connection_the_process_closed_is_replaced_without_a_failure() -> None:
    served = 0

    async def once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal served
        body = await _read_call(reader)
        served += 1
        writer.write(OK % (len(body), body))
        await writer.drain()
        writer.close()  # closed while idle in the pool, as a stopped process does

    async def calls(replica: Replica) -> None:
        client = ReplicaClient(timeout=30)
        assert (await client.call(replica, "POST", "/score", b"1", KEY)).body == b"1"
        await asyncio.sleep(0)  # let the close arrive (either way, the call must succeed)
        assert (await client.call(replica, "POST", "/score", b"2", KEY)).body == b"2"

    asyncio.run(_with_server(once, calls))
    assert served == 2


def _gone_replica() -> Replica:
    """A replica whose process has exited: the other end of its link is closed."""
    ours, theirs = link_pair()
    theirs.close()
    busy, descriptor = BusyTable.new()
    os.close(descriptor)
    return Replica(ours, busy)


def test_a_replica_that_is_gone_is_refused() -> None:
    async def calls() -> None:
        with pytest.raises(ReplicaFailure) as failure:
            await ReplicaClient(timeout=30).call(_gone_replica(), "GET", "/", b"")
        assert failure.value.failure is Failure.REFUSED

    asyncio.run(calls())


def test_slots_refuse_past_their_total_and_free_up_as_given_back() -> None:
    slots = Slots(2)
    assert slots.take() and slots.take()
    assert not slots.take()
    slots.give()
    assert slots.take() and slots.busy == 2


def test_a_replica_that_refuses_twice_is_a_503_that_says_when_to_retry() -> None:
    async def call() -> ApiError:
        gone = _gone_replica()
        # The route still names the replica that is gone (the supervisor has not seen it).
        emulator = SimpleNamespace(
            host=SimpleNamespace(replica_of=lambda _service: gone),
            replica_client=ReplicaClient(),
        )
        with pytest.raises(ApiError) as refused:
            await _forward(cast(Emulator, emulator), "svc", "POST", "/score", b"{}", None)
        return refused.value

    error = asyncio.run(call())
    assert error.status == 503 and error.headers == {"Retry-After": "1"}
