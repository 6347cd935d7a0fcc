"""The HTTP face of a scoring process: its service's scoring URI, answered where the
driver runs.

The process listens on no port. The emulator accepts each connection of the service's
scoring port and hands the socket over (``handoff``); this process serves it with the
emulator's own h11 protocol (``wire``) behind the emulator's own rules, from the same
list (``middleware.scoring_road``: request ids and the access line, Host and Origin, the
body limit), then the service's key (``scoring_rules``, read through the store's
``ScoringIndex``: a key regenerated anywhere is refused at the very next call), at most
``CALL_SLOTS`` calls in flight (503), and ``CALL_TIMEOUT_SECONDS`` for the driver (504).
So a call crosses one HTTP stack, not two.

The driver runs on a thread of its own, one call at a time, as a single-worker container
ran it; the event loop stays free for health checks, 503s and 504s. Its answers are those
the 2017 containers gave: ``run(input)``'s result as JSON, or ``{"error": ...}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from types import SimpleNamespace
from typing import Any

import h11
import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mms_pulumi.emulator.errors import ApiError
from mms_pulumi.emulator.handoff import (
    ANSWERING,
    IDLE,
    NO_SLOT,
    READING,
    BusyTable,
    Kind,
    LinkClosed,
    receive_record,
    send_record,
)
from mms_pulumi.emulator.middleware import scoring_road
from mms_pulumi.emulator.scoring.driver import Driver, last_line
from mms_pulumi.emulator.scoring_rules import (
    CALL_SLOTS,
    KeyRule,
    authorization,
    key_error,
    key_refusal,
    port_call,
    read_body,
    send_answer,
    slots_busy,
    wrong_port,
)
from mms_pulumi.emulator.settings import EmulatorSettings
from mms_pulumi.emulator.store import ScoringIndex
from mms_pulumi.emulator.wire import GracefulServer, SeedErrorH11Protocol, serve_accepted

HEALTHY = json.dumps({"status": "Healthy"}).encode()


def score_answer(driver: Driver, body: bytes) -> tuple[int, bytes]:
    """The status and JSON body of ``POST /score`` with ``body`` (on the driver's thread):
    ``run(input)``'s result, a 400 for input that is not usable JSON or that the driver
    calls bad, a 500 for a driver that fails or returns what JSON cannot hold."""
    try:
        payload = json.loads(body or b"null", parse_constant=_no_constant)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        return _error(HTTPStatus.BAD_REQUEST, f"body is not JSON: {err}")
    except (ValueError, RecursionError) as err:
        # NaN/Infinity, integers over Python's 4,300-digit limit, nesting past the stack.
        reason = "is nested too deeply" if isinstance(err, RecursionError) else str(err)
        return _error(HTTPStatus.BAD_REQUEST, f"body is not usable JSON: {reason}")
    try:
        result = driver.run(payload)
    except (ValueError, TypeError, KeyError) as err:
        # The driver's own word on bad input, as the 2017 service passed it on.
        return _error(HTTPStatus.BAD_REQUEST, last_line(err))
    except Exception:  # user code: log it, keep serving; the caller gets no internals
        traceback.print_exc(file=sys.stderr)  # the service's log
        return _error(
            HTTPStatus.INTERNAL_SERVER_ERROR, "run() failed; the service's log has the traceback"
        )
    try:
        return HTTPStatus.OK, json.dumps(result, allow_nan=False).encode()
    except (ValueError, TypeError, RecursionError) as err:
        print(f"run() returned what JSON cannot hold: {last_line(err)}", file=sys.stderr)
        return _error(
            HTTPStatus.INTERNAL_SERVER_ERROR,
            "run() returned a value JSON cannot hold (NaN, Infinity, an object)",
        )


def _error(status: HTTPStatus, message: str) -> tuple[int, bytes]:
    return status, json.dumps({"error": message}).encode()


def _no_constant(name: str) -> Any:
    """``json.loads`` takes ``NaN``, ``Infinity`` and ``-Infinity``, which JSON does not."""
    raise ValueError(f"{name} is not JSON")


@dataclass
class ReplicaState:
    """What the emulator's rules find on ``scope["app"].state.emulator`` in a replica."""

    settings: EmulatorSettings
    requests: Counter[str] = field(default_factory=Counter)


@dataclass
class ScoringEndpoint:
    """Answers the service's three scoring calls, after the rules; the body arrives whole
    (``BodyLimit`` read it).

    ``POST /score`` runs the driver on the event loop itself, one call at a time in the
    order they came (a hand-off to a thread cost more than the floor's whole request): the
    calls read while one runs wait their turn, at most ``CALL_SLOTS`` of them, and the
    next is answered 503 at once. While the driver runs nothing else is read, as in a
    single-worker container; the emulator, which watches ``busy.running_since``, answers
    504 for a run past the timeout and restarts the process.
    """

    service_id: str
    driver: Driver
    swagger: dict[str, Any] | None
    index: ScoringIndex
    rule: KeyRule
    busy: BusyTable
    admitted: int = 0  # calls running or waiting their turn
    turn: asyncio.Lock = field(default_factory=asyncio.Lock)  # FIFO

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            status, body = await self._answer(scope, receive)
        except ApiError as error:
            await error.response()(scope, receive, send)
            return
        await send_answer(send, status, body)

    async def _answer(self, scope: Scope, receive: Receive) -> tuple[int, bytes]:
        target = port_call(self.service_id, scope["method"], scope["path"])
        if target is None:
            raise wrong_port()
        self._check_key(authorization(scope), scoring=target == "/score")
        if target == "/":
            return HTTPStatus.OK, HEALTHY
        if target == "/swagger.json":
            if self.swagger is None:
                return _error(HTTPStatus.NOT_FOUND, "no route /swagger.json")
            return HTTPStatus.OK, json.dumps(self.swagger).encode()
        if self.admitted >= CALL_SLOTS:
            raise slots_busy(CALL_SLOTS)
        self.admitted += 1
        try:
            body = await read_body(receive)
            # The calls read with this one come in before any runs: each takes its place in
            # line (or its 503) in the order they came.
            await asyncio.sleep(0)
            async with self.turn:
                self.busy.running(time.monotonic())
                try:
                    return score_answer(self.driver, body)
                finally:
                    self.busy.running(0.0)
        except asyncio.CancelledError:
            # The process stops (a delete, an update) and its grace is over: a call still
            # waiting its turn hears why, in the seed's shape, not uvicorn's plain 500.
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            raise ApiError(
                502,
                f"Service {self.service_id}'s scoring process stopped before its driver answered.",
            ) from None
        finally:
            self.admitted -= 1

    def _check_key(self, header: str | None, *, scoring: bool) -> None:
        entry = self.index.entry(self.service_id)
        refusal = key_refusal(self.rule, self.service_id, entry, header, scoring=scoring)
        if isinstance(refusal, ApiError):
            raise refusal
        if not refusal or entry is None:
            return
        if entry.keys is None:  # not reached: the emulator makes them before starting us
            raise ApiError(503, "The service's keys are being made; try again.")
        error = key_error(header, entry.keys)
        if error is not None:
            raise error


class ReplicaApp:
    """The replica's ASGI app: the scoring road over ``ScoringEndpoint``, with the state
    the rules look for where Starlette would put it."""

    def __init__(self, endpoint: ScoringEndpoint, state: ReplicaState) -> None:
        self.road = scoring_road(endpoint, state.settings.max_body_bytes)
        self.state = SimpleNamespace(emulator=state)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        scope["app"] = self
        await self.road(scope, receive, send)


class BusyMark:
    """Marks its connection's byte of the busy table ``ANSWERING`` once the answer starts:
    from then on the emulator must not answer for this process (``HandedProtocol`` marks
    ``READING`` when a request begins and ``IDLE`` once it is answered)."""

    def __init__(self, app: ASGIApp, protocol: HandedProtocol) -> None:
        self.app, self.protocol = app, protocol

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        protocol = self.protocol

        async def marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                protocol.mark(ANSWERING)
            await send(message)

        await self.app(scope, receive, marked)


class HandedProtocol(SeedErrorH11Protocol):
    """The h11 protocol on a connection the emulator handed over: what its call is doing
    is kept in the busy table, its end is told to the emulator (which holds the
    connection too), and when this process stops it gives the connection back between two
    requests rather than close it (``RELEASED``), so the caller's next request goes to
    another replica."""

    slot: int = NO_SLOT
    busy: BusyTable | None = None
    on_end: Callable[[Kind, int], None] = staticmethod(lambda _kind, _slot: None)
    _stopping = False
    _released = False
    _lost = False

    def mark(self, state: int) -> None:
        """Say what this connection does, unless it has ended (its slot may be another's)."""
        if self.busy is not None and not self._lost:
            self.busy.mark(self.slot, state)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """The protocol's hook: a connection that sends nothing is closed as an idle one
        is (uvicorn arms that timer only after a first answer)."""
        super().connection_made(transport)
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )

    def data_received(self, data: bytes) -> None:
        """The protocol's hook: a request has begun, if none was under way."""
        if self.busy is not None and self.busy.state(self.slot) == IDLE:
            self.mark(READING)
        super().data_received(data)

    def shutdown(self) -> None:
        """uvicorn's hook on a graceful stop: give the connection back now if it is
        between two requests, else once its answer is sent (it keeps alive)."""
        if self.slot == NO_SLOT:
            super().shutdown()
            return
        self._stopping = True
        self._release_if_idle()

    def on_response_complete(self) -> None:
        """uvicorn's hook: an answer is sent; a next request may already be read."""
        super().on_response_complete()
        self.mark(READING if self.conn.trailing_data[0] else IDLE)
        if self._stopping:
            self._release_if_idle()

    def _release_if_idle(self) -> None:
        idle = self.cycle is None or self.cycle.response_complete
        unread = self.conn.trailing_data[0]  # a next request already read: serve it first
        if not idle or unread or self.conn.their_state is not h11.IDLE:
            return
        if self.transport.is_closing():
            return
        self.transport.pause_reading()  # what comes next stays in the socket
        self._released = True
        # Closing this process's descriptor does not end the connection: the emulator
        # holds it too, and hands it on once it hears of the release.
        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        """The protocol's hook: the connection ended here (or was given back)."""
        super().connection_lost(exc)
        if self.slot != NO_SLOT:
            self.mark(IDLE)
            self._lost = True
            self.on_end(Kind.RELEASED if self._released else Kind.CLOSED, self.slot)


class ReplicaServer(GracefulServer):
    """uvicorn, listening on no port: it serves the connections the emulator hands over
    on the link, says ``READY`` once it does, and stops when the link closes."""

    def __init__(self, config: uvicorn.Config, link: socket.socket, busy: BusyTable) -> None:
        super().__init__(config)
        self.link = link
        self.busy = busy

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start as uvicorn does with no socket of its own, then take connections."""
        await super().startup(sockets=[])
        if not self.started:
            return
        loop = asyncio.get_running_loop()
        self.link.setblocking(True)
        loop.add_reader(self.link.fileno(), self._receive, loop)
        send_record(self.link, Kind.READY, 0)

    def _receive(self, loop: asyncio.AbstractEventLoop) -> None:
        """Take every record waiting: while the driver ran, none was read."""
        while True:
            try:
                kind, slot, descriptor = receive_record(self.link, wait=False)
            except BlockingIOError:
                return
            except LinkClosed:
                loop.remove_reader(self.link.fileno())
                self.should_exit = True  # the emulator is gone: nobody can reach us now
                return
            if kind is Kind.CONNECTION:
                self._take(loop, slot, descriptor)

    def _take(self, loop: asyncio.AbstractEventLoop, slot: int, descriptor: int | None) -> None:
        if descriptor is None:  # out of descriptors here: the emulator serves it elsewhere
            if slot != NO_SLOT:
                self._ended(Kind.RELEASED, slot)
            return
        os.set_inheritable(descriptor, False)  # where MSG_CMSG_CLOEXEC is not (macOS)
        connection = socket.socket(fileno=descriptor)
        if self.should_exit and slot != NO_SLOT:  # handed over as this process stops
            connection.close()
            self._ended(Kind.RELEASED, slot)
            return
        connection.setblocking(False)
        serve_accepted(loop, lambda: self._protocol(slot), connection)

    def _protocol(self, slot: int) -> asyncio.Protocol:
        protocol = HandedProtocol(
            config=self.config, server_state=self.server_state, app_state=self.lifespan.state
        )
        if slot != NO_SLOT:
            protocol.app = BusyMark(protocol.app, protocol)
            protocol.slot = slot
            protocol.busy = self.busy
            protocol.on_end = self._ended
        return protocol

    def _ended(self, kind: Kind, slot: int) -> None:
        with contextlib.suppress(LinkClosed):  # the emulator gone holds nothing any more
            send_record(self.link, kind, slot)


def replica_config(app: ReplicaApp) -> uvicorn.Config:
    """uvicorn's settings for a replica: the emulator's own, less what a port would need."""
    return uvicorn.Config(
        app,
        lifespan="off",
        log_config=None,
        access_log=False,
        proxy_headers=False,
        http=HandedProtocol,
        timeout_graceful_shutdown=8,  # within the keeper's 10 s before SIGKILL
    )
