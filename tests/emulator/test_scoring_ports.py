"""A service's scoring port (``ports.ScoringPorts``) on loopback, with a replica played in
this test over a real link: what it is handed, what it may let go, and what a caller
sees when it dies in a call or none serves."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from mms_pulumi.emulator.handoff import (
    READING,
    BusyTable,
    Kind,
    link_pair,
    receive_record,
    send_record,
)
from mms_pulumi.emulator.ports import ScoringPorts
from mms_pulumi.emulator.replicas import Replica

TIMEOUT = 30.0


@dataclass
class PlayedReplica:
    """The replica's end of a link, and the emulator's ``Replica`` of it."""

    link: socket.socket
    busy: BusyTable
    replica: Replica

    def take(self) -> tuple[int, socket.socket]:
        """The next connection handed over, and its slot."""
        self.link.settimeout(TIMEOUT)
        kind, slot, descriptor = receive_record(self.link)
        assert kind is Kind.CONNECTION and descriptor is not None
        return slot, socket.socket(fileno=descriptor)


def played() -> PlayedReplica:
    ours, theirs = link_pair()
    table, descriptor = BusyTable.new()
    theirs_table = BusyTable(descriptor)  # the replica's mapping of the same memory
    os.close(descriptor)
    return PlayedReplica(theirs, theirs_table, Replica(ours, table))


@dataclass
class Route:
    """What ``pick`` answers: the replica routed, if any."""

    replica: Replica | None = None
    picked: list[str] = field(default_factory=list)
    hung: list[Replica] = field(default_factory=list)  # what ``on_hung`` heard of

    def pick(self, service_id: str) -> Replica | None:
        self.picked.append(service_id)
        return self.replica


@pytest.fixture
def ports() -> Iterator[tuple[ScoringPorts, Route]]:
    route = Route()
    scoring_ports = ScoringPorts("127.0.0.1", route.pick, route.hung.append, timeout=5.0)
    scoring_ports.start()
    try:
        yield scoring_ports, route
    finally:
        scoring_ports.stop()


def _watched(scoring_ports: ScoringPorts, route: Route) -> PlayedReplica:
    replica = played()
    route.replica = replica.replica
    scoring_ports.watch("svc", replica.replica)
    return replica


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)


def _connected(
    scoring_ports: ScoringPorts, route: Route
) -> tuple[PlayedReplica, socket.socket, int, socket.socket]:
    """A replica watched and routed, a caller connected to the port, and the connection
    as the replica was handed it, with its slot."""
    replica = _watched(scoring_ports, route)
    caller = _connect(scoring_ports.open("svc"))
    slot, handed = replica.take()
    return replica, caller, slot, handed


def _until_closed(connection: socket.socket) -> bytes:
    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    return received


def test_a_connection_is_handed_over_whole_with_nagle_off(
    ports: tuple[ScoringPorts, Route],
) -> None:
    scoring_ports, route = ports
    replica = _watched(scoring_ports, route)
    port = scoring_ports.open("svc")
    assert scoring_ports.open("svc") == port == scoring_ports.port("svc")
    caller = _connect(port)
    slot, handed = replica.take()
    assert route.picked == ["svc"]
    assert handed.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    caller.sendall(b"ping")
    assert handed.recv(4) == b"ping"  # the replica reads the caller's own bytes
    handed.sendall(b"pong")
    assert caller.recv(4) == b"pong"
    # The replica ends the connection: its close alone does not (the emulator holds it
    # too), the CLOSED record lets the emulator's go, and the caller sees the end.
    handed.close()
    send_record(replica.link, Kind.CLOSED, slot)
    assert _until_closed(caller) == b""


def test_a_replica_that_dies_in_a_call_leaves_its_caller_a_502(
    ports: tuple[ScoringPorts, Route],
) -> None:
    scoring_ports, route = ports
    replica = _watched(scoring_ports, route)
    port = scoring_ports.open("svc")
    in_call, idle = _connect(port), _connect(port)
    busy_slot, first = replica.take()
    idle_slot, second = replica.take()
    assert busy_slot != idle_slot
    replica.busy.mark(busy_slot, READING)
    first.close()
    second.close()
    replica.link.close()  # the process exits
    answer = _until_closed(in_call)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 502 ")
    assert b"\r\nconnection: close" in head and b"\r\nx-ms-request-id: " in head
    error = json.loads(body)
    assert error["statusCode"] == 502 and "closed the connection" in error["message"]
    assert _until_closed(idle) == b""  # no answer to a request it never made


def test_with_no_replica_serving_the_stand_in_gets_the_connection(
    ports: tuple[ScoringPorts, Route],
) -> None:
    scoring_ports, _route = ports
    handed: list[socket.socket] = []
    arrived = threading.Event()

    def stand_in(service_id: str, connection: socket.socket) -> None:
        assert service_id == "svc"
        handed.append(connection)
        arrived.set()

    scoring_ports.stand_in = stand_in
    caller = _connect(scoring_ports.open("svc"))
    assert arrived.wait(TIMEOUT)
    caller.sendall(b"ping")
    handed[0].setblocking(True)
    assert handed[0].recv(4) == b"ping"
    handed[0].close()
    caller.close()


def test_a_replica_not_watched_yet_is_not_handed_a_connection(
    ports: tuple[ScoringPorts, Route],
) -> None:
    scoring_ports, route = ports
    route.replica = played().replica  # routed, but its link not taken: the stand-in serves
    caller = _connect(scoring_ports.open("svc"))
    assert _until_closed(caller) == b""  # no stand-in either (no server runs): closed


def test_a_closed_port_refuses_connections(ports: tuple[ScoringPorts, Route]) -> None:
    scoring_ports, _route = ports
    port = scoring_ports.open("svc")
    scoring_ports.close("svc")
    assert scoring_ports.port("svc") is None
    with pytest.raises(ConnectionRefusedError):
        _connect(port)


def test_a_service_gets_the_port_it_had_when_it_is_free(
    ports: tuple[ScoringPorts, Route],
) -> None:
    scoring_ports, _route = ports
    port = scoring_ports.open("one")
    scoring_ports.close("one")
    taken = scoring_ports.open("two")
    assert scoring_ports.open("three", preferred=taken) not in (taken, 0)
    assert scoring_ports.open("four", preferred=port) == port


def test_a_connection_given_back_goes_to_the_next_replica_with_its_bytes(
    ports: tuple[ScoringPorts, Route],
) -> None:
    scoring_ports, route = ports
    old, caller, slot, handed = _connected(scoring_ports, route)
    new = _watched(scoring_ports, route)  # the route now names another replica
    handed.close()  # the old one stops: its descriptor goes, the connection stays
    caller.sendall(b"next request")  # on its way while the connection changes hands
    send_record(old.link, Kind.RELEASED, slot)
    _slot, again = new.take()
    assert again.recv(64) == b"next request"
    again.sendall(b"answer")
    assert caller.recv(64) == b"answer"


def test_a_driver_run_past_the_timeout_is_answered_504_and_its_replica_restarted(
    ports: tuple[ScoringPorts, Route],
) -> None:
    scoring_ports, route = ports
    replica, caller, slot, handed = _connected(scoring_ports, route)
    replica.busy.mark(slot, READING)
    replica.busy.running(time.monotonic() - 6.0)  # a run that began past the 5 s timeout
    answer = _until_closed(caller)  # within a second: the tables are looked at that often
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 504 Gateway Timeout")
    assert json.loads(body)["message"] == "Service svc's driver did not answer within 5 s."
    assert route.hung == [replica.replica]
    handed.close()


def test_a_replica_that_dies_hands_on_a_request_it_never_read(
    ports: tuple[ScoringPorts, Route],
) -> None:
    scoring_ports, route = ports
    dying, caller, _slot, handed = _connected(scoring_ports, route)
    caller.sendall(b"a request")  # sent while the replica was busy elsewhere: never read
    next_one = _watched(scoring_ports, route)
    handed.close()
    dying.link.close()  # the process exits
    _slot, again = next_one.take()
    assert again.recv(64) == b"a request"


def test_a_replica_that_reads_nothing_never_stalls_the_ports(
    ports: tuple[ScoringPorts, Route],
) -> None:
    scoring_ports, route = ports
    _watched(scoring_ports, route)  # its link is never read: a driver that runs and runs
    served_elsewhere: list[str] = []
    other_arrived = threading.Event()

    def stand_in(service_id: str, connection: socket.socket) -> None:
        served_elsewhere.append(service_id)
        connection.close()
        if service_id == "other":
            other_arrived.set()

    scoring_ports.stand_in = stand_in
    port = scoring_ports.open("svc")
    callers = [_connect(port) for _ in range(600)]  # more than its link holds records
    other = _connect(scoring_ports.open("other"))
    assert other_arrived.wait(TIMEOUT)  # another service's port is still served
    assert "svc" in served_elsewhere  # the calls past the full link went to the emulator
    for caller in [*callers, other]:
        caller.close()
