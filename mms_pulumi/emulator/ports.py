"""Each service's scoring port: the emulator accepts its connections and hands each one to
a replica, which serves it (``handoff``).

One thread does all of it, with a selector over every service's listening socket and
every replica's link:

- a connection accepted on a service's port goes to the replica ``pick`` names (round
  robin over the live ones), with a slot of that replica's busy table; the emulator keeps
  its own reference to it. With no replica serving (restarting, failed, starting) or a
  replica's slots all taken, it goes to ``stand_in``: the emulator's own HTTP server,
  whose scoring road answers the 503 or 404 that says why, or forwards it;
- a replica's ``CLOSED`` record lets its connection go; its ``RELEASED`` record (it stops,
  and the connection is between two requests) hands the connection on, as if accepted
  again;
- a replica's link that ends is a replica that has exited: each connection it held that
  was in a call (its busy byte) is answered 502, as the proxy would have answered; one
  with a request it never read goes to another replica; the rest are let go;
- once a second it looks at each replica's busy table: a driver run past the timeout is
  a hung driver, whose call is answered 504 and whose process ``on_hung`` restarts (a
  replica runs its driver on its event loop: while it hangs, it reads nothing).

The kernel never balances: the emulator hands connections out, and a caller that keeps
its connection alive stays with one replica, as behind any TCP load balancer.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from mms_pulumi.emulator.errors import ApiError
from mms_pulumi.emulator.handoff import IDLE, SLOTS, Kind, LinkClosed, receive_record
from mms_pulumi.emulator.replicas import CALL_TIMEOUT_SECONDS, Replica
from mms_pulumi.emulator.scoring_rules import driver_timeout
from mms_pulumi.emulator.wire import closing_answer

logger = logging.getLogger("mms_pulumi.emulator")
BACKLOG = 512
# How long a listener rests after accept() failed for want of descriptors.
RESTING_SECONDS = 0.1
# How often the busy tables are looked at for a driver run past the timeout.
HUNG_CHECK_SECONDS = 1.0


def dropped(service_id: str) -> ApiError:
    """The 502 for a call whose replica died in it, or gave it up."""
    return ApiError(
        502,
        f"Service {service_id}'s scoring process closed the connection without an answer "
        "(it may have crashed; it is restarted).",
    )


def hung(started: float, now: float, timeout: float) -> bool:
    """Whether a driver run that started at ``started`` (0: none runs) is past ``timeout``
    at ``now`` (pure)."""
    return started > 0 and now - started > timeout


@dataclass(eq=False)
class _Held:
    """A replica's connections the emulator handed over, by slot."""

    service_id: str
    replica: Replica
    connections: dict[int, socket.socket] = field(default_factory=dict)
    free: list[int] = field(default_factory=lambda: list(range(SLOTS - 1, -1, -1)))
    hung: bool = False  # its driver ran past the timeout: it is being restarted


class ScoringPorts:
    """The scoring ports of every service, served by one thread (``start``)."""

    def __init__(
        self,
        host: str,
        pick: Callable[[str], Replica | None],
        on_hung: Callable[[Replica], None] = lambda _replica: None,
        *,
        timeout: float = CALL_TIMEOUT_SECONDS,
    ) -> None:
        self._host = host
        self._pick = pick
        self._on_hung = on_hung
        self._timeout = timeout
        # The emulator's own server, once it runs: it serves what no replica can.
        self.stand_in: Callable[[str, socket.socket], None] | None = None
        self._lock = threading.Lock()
        self._listeners: dict[str, socket.socket] = {}
        self._held: dict[Replica, _Held] = {}
        self._pending: list[Callable[[], None]] = []
        self._selector = selectors.DefaultSelector()
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_read.setblocking(False)
        self._wake_write.setblocking(False)  # a wake already pending is enough
        # Listeners set aside after accept() failed for want of descriptors: (when to
        # look again, listener, service); a level-triggered select would spin on them.
        self._resting: list[tuple[float, socket.socket, str]] = []
        self._selector.register(self._wake_read, selectors.EVENT_READ, self._woken)
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="scoring-ports", daemon=True)

    def start(self) -> None:
        """Start serving the ports (once)."""
        self._thread.start()

    def port(self, service_id: str) -> int | None:
        """The service's scoring port, or ``None`` when it has none open."""
        with self._lock:
            listener = self._listeners.get(service_id)
        return None if listener is None else int(listener.getsockname()[1])

    def open(self, service_id: str, preferred: int | None = None) -> int:
        """Open the service's scoring port (``preferred`` when it is free, else any), or
        the one it has; the port."""
        with self._lock:
            listener = self._listeners.get(service_id)
            if listener is not None:
                return int(listener.getsockname()[1])
            listener = _listen(self._host, preferred)
            self._listeners[service_id] = listener

        def register() -> None:
            self._selector.register(listener, selectors.EVENT_READ, service_id)

        self._later(register)
        return int(listener.getsockname()[1])

    def close(self, service_id: str) -> None:
        """Close the service's scoring port (its delete): once this returns, connections
        are refused."""
        with self._lock:
            listener = self._listeners.pop(service_id, None)
        if listener is None:
            return
        done = threading.Event()

        def forget() -> None:
            self._forget(listener)
            done.set()

        self._later(forget)
        if threading.current_thread() is not self._thread and self._thread.is_alive():
            done.wait(timeout=10)

    def watch(self, service_id: str, replica: Replica) -> None:
        """Take a ready replica's link: connections may be handed to it from now on."""
        held = _Held(service_id, replica)

        def register() -> None:
            self._held[replica] = held
            self._selector.register(replica.link, selectors.EVENT_READ, held)

        self._later(register)

    def stop(self) -> None:
        """Close every port and let every connection go; the thread ends."""
        with self._lock:
            self._stopping = True
        self._wake()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    # --- the thread ------------------------------------------------------------------

    def _later(self, operation: Callable[[], None]) -> None:
        with self._lock:
            self._pending.append(operation)
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # BlockingIOError: a wake is pending already
            self._wake_write.send(b"\0")

    def _woken(self) -> None:
        with contextlib.suppress(BlockingIOError):
            self._wake_read.recv(4096)

    def _run(self) -> None:
        try:
            while self._apply_pending():
                wait = RESTING_SECONDS if self._resting else HUNG_CHECK_SECONDS
                events = self._selector.select(timeout=wait)
                # What other threads asked for before these events (a replica watched, a
                # port closed) applies to them.
                if not self._apply_pending():
                    return
                for key, _events in events:
                    self._guarded(self._ready, key.fileobj, key.data)
                now = time.monotonic()
                self._guarded(self._wake_rested, now)
                self._guarded(self._answer_hung, now)
        finally:
            self._close_all()

    def _apply_pending(self) -> bool:
        """Run what other threads asked of this one; ``False`` once it is to stop."""
        with self._lock:
            pending, self._pending = self._pending, []
            stopping = self._stopping
        for operation in pending:
            self._guarded(operation)
        return not stopping

    @staticmethod
    def _guarded(step: Callable[..., None], *args: object) -> None:
        """Run one step of the thread: one port's trouble must not stop the others."""
        try:
            step(*args)
        except Exception:
            logger.exception("a scoring port failed to serve a connection")

    def _wake_rested(self, now: float) -> None:
        """Listen again on the listeners set aside whose rest is over (and still open)."""
        due = [entry for entry in self._resting if entry[0] <= now]
        self._resting = [entry for entry in self._resting if entry[0] > now]
        for _, listener, service_id in due:
            if listener.fileno() >= 0:
                self._selector.register(listener, selectors.EVENT_READ, service_id)

    def _ready(self, source: socket.socket, data: object) -> None:
        if source.fileno() < 0:  # closed by an operation applied after the select
            return
        if callable(data):
            data()
        elif isinstance(data, str):
            self._accept(source, data)
        elif isinstance(data, _Held):
            self._record(data)

    def _accept(self, listener: socket.socket, service_id: str) -> None:
        while True:
            try:
                connection, _address = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as err:  # out of descriptors, say: the backlog keeps the rest
                logger.warning(
                    "scoring port of %s: accept failed (%s); trying again in %.1f s",
                    service_id,
                    err,
                    RESTING_SECONDS,
                )
                self._selector.unregister(listener)
                self._resting.append((time.monotonic() + RESTING_SECONDS, listener, service_id))
                return
            connection.setblocking(True)
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._serve(service_id, connection)

    def _serve(self, service_id: str, connection: socket.socket) -> None:
        """Hand a connection to the service's next replica, or else to the stand-in."""
        if not self._hand(service_id, connection):
            self._stand_in(service_id, connection)

    def _hand(self, service_id: str, connection: socket.socket) -> bool:
        replica = self._pick(service_id)
        held = self._held.get(replica) if replica is not None else None
        if replica is None or held is None or held.hung or not held.free:
            return False
        slot = held.free.pop()  # reset when it was taken back (``_taken_back``)
        try:
            replica.hand(connection, slot)
        except LinkClosed:
            held.free.append(slot)
            return False
        held.connections[slot] = connection
        return True

    def _stand_in(self, service_id: str, connection: socket.socket) -> None:
        stand_in = self.stand_in
        if stand_in is None:
            connection.close()
            return
        connection.setblocking(False)
        stand_in(service_id, connection)

    def _record(self, held: _Held) -> None:
        try:
            kind, slot, descriptor = receive_record(held.replica.link)
        except LinkClosed:
            self._gone(held)
            return
        if descriptor is not None:  # not sent by a replica
            os.close(descriptor)
        if kind is Kind.CLOSED and slot in held.connections:
            self._let_go(held, slot)
        elif kind is Kind.RELEASED and slot in held.connections:
            # Given back between two requests by a replica that stops: the next request,
            # if any is on its way, waits in the socket for the replica it goes to now.
            self._serve(held.service_id, _taken_back(held, slot))

    def _gone(self, held: _Held) -> None:
        """The replica exited: answer its calls in flight 502, hand on the connections
        whose next request it never read, let the rest go."""
        self._selector.unregister(held.replica.link)
        self._held.pop(held.replica, None)
        for slot in list(held.connections):
            idle = held.replica.busy.state(slot) == IDLE
            if idle and _unread(held.connections[slot]):
                self._serve(held.service_id, _taken_back(held, slot))
            else:
                self._let_go(held, slot)
        held.replica.close()

    def _let_go(self, held: _Held, slot: int, error: ApiError | None = None) -> None:
        """Close the emulator's hold of a connection the replica is done with, and free its
        slot; one it left in a call (it died, or gave the call up) is answered ``error``
        (502) first."""
        busy = held.replica.busy.busy(slot)
        connection = _taken_back(held, slot)
        if error is None and busy:
            error = dropped(held.service_id)
        if error is not None:
            with contextlib.suppress(OSError):  # never waiting on a caller that reads not
                connection.send(closing_answer(error), socket.MSG_DONTWAIT)
        with contextlib.suppress(OSError):
            connection.shutdown(socket.SHUT_RDWR)
        connection.close()

    def _answer_hung(self, now: float) -> None:
        """Answer 504 for each driver run past the timeout, and have its process
        restarted: while it hangs, its replica reads nothing."""
        for held in list(self._held.values()):
            if held.hung or not hung(held.replica.busy.running_since(), now, self._timeout):
                continue
            held.hung = True
            logger.warning(
                "service %s: a driver run passed %.0f s; answered 504, restarting it",
                held.service_id,
                self._timeout,
            )
            self._on_hung(held.replica)
            timed_out = driver_timeout(held.service_id, self._timeout)
            for slot in [s for s in held.connections if held.replica.busy.busy(s)]:
                self._let_go(held, slot, timed_out)

    def _forget(self, listener: socket.socket) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(listener)
        self._resting = [entry for entry in self._resting if entry[1] is not listener]
        listener.close()

    def _close_all(self) -> None:
        with self._lock:
            listeners = list(self._listeners.values())
            self._listeners.clear()
        for listener in listeners:
            listener.close()
        for held in list(self._held.values()):
            for connection in held.connections.values():
                connection.close()
        self._held.clear()
        self._selector.close()
        self._wake_read.close()
        self._wake_write.close()


def _taken_back(held: _Held, slot: int) -> socket.socket:
    """A handed connection, out of its replica's hold: its slot is free for another."""
    held.replica.busy.clear(slot)
    held.free.append(slot)
    return held.connections.pop(slot)


def _unread(connection: socket.socket) -> bool:
    """Whether the caller has sent bytes nobody has read yet (a next request)."""
    try:
        return bool(connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    except OSError:  # nothing waiting (BlockingIOError), or the caller is gone
        return False


def _listen(host: str, preferred: int | None) -> socket.socket:
    """A listening socket on ``host``: ``preferred`` when free, else any port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for port in ([preferred] if preferred else []) + [0]:
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((host.strip("[]"), port))
        except OSError:
            listener.close()
            if port == 0:
                raise
            continue
        listener.listen(BACKLOG)
        listener.setblocking(False)
        return listener
    raise AssertionError("unreachable")
