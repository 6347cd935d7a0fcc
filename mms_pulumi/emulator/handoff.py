"""How the emulator hands a service's connections to its scoring processes.

The emulator owns each service's scoring port (``ports.ScoringPorts``): it accepts a
connection there and passes the socket itself to one replica over a Unix socket pair (the
*link*, ``SCM_RIGHTS``), once per connection, not per request. The replica serves HTTP on
it directly, the emulator's rules included, so no request crosses a proxy. The emulator
keeps its own reference to every connection it handed over, so when a replica dies during
a call, the caller still gets a 502 from the emulator rather than a reset; a byte per
connection in memory both processes share (``BusyTable``) tells it which ones were in a
call.

The link carries fixed-size records (``RECORD``: a kind and a slot), a connection's
descriptor riding on its ``CONNECTION`` record, and once at start one ``SETTINGS`` record
followed by that many bytes of JSON. The emulator sends ``SETTINGS`` and ``CONNECTION``;
the replica sends ``READY`` once it serves, ``CLOSED`` when a connection handed over has
ended, and, when it stops, ``RELEASED`` for each connection it gives back between two
requests, which the emulator hands to another replica: a caller keeping its connection
alive across a rolling update never sees it close. A link that closes is a replica that
has exited.

Standard library only: the replica imports this before the driver loads.
"""

from __future__ import annotations

import json
import mmap
import os
import socket
import struct
import sys
import tempfile
from enum import IntEnum
from typing import Any

RECORD = struct.Struct("!II")
# The slot of a connection the emulator made itself (its own scoring road's): it keeps
# the other end, so it needs no busy byte to know a call broke.
NO_SLOT = 0xFFFF_FFFF
# Connections one replica may hold at once (the busy table has a byte for each).
SLOTS = 4096
MAX_SETTINGS_BYTES = 64 * 1024
# Received descriptors are not inherited by what the driver starts.
_CLOEXEC = getattr(socket, "MSG_CMSG_CLOEXEC", 0)
_ANCILLARY = socket.CMSG_SPACE(struct.calcsize("i"))
# A connection's state in the busy table.
IDLE = 0  # between two requests
READING = 1  # a request has begun: no answer has started
ANSWERING = 2  # the answer has started: another answer must not follow it


class Kind(IntEnum):
    """What a record on the link says."""

    SETTINGS = 1  # emulator → replica, once: that many bytes of JSON follow
    CONNECTION = 2  # emulator → replica: serve this connection (its slot)
    READY = 3  # replica → emulator, once: it serves
    CLOSED = 4  # replica → emulator: the connection in this slot has ended
    RELEASED = 5  # replica → emulator: it stops, and gives back this idle connection


class LinkClosed(Exception):
    """The other end of the link is gone (the replica, or the emulator, exited)."""


class LinkBusy(LinkClosed):
    """The other end reads nothing now (a replica whose driver runs): a record sent
    without waiting found the link full. Whoever sent it serves the call some other way."""


def link_pair() -> tuple[socket.socket, socket.socket]:
    """A new link: the emulator's end and the replica's (to be inherited)."""
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)


def send_record(
    link: socket.socket,
    kind: Kind,
    value: int,
    descriptor: int | None = None,
    *,
    wait: bool = True,
) -> None:
    """Send one record, with a descriptor riding on it if given; ``LinkClosed`` when the
    other end is gone, ``LinkBusy`` when ``wait`` is false and the link is full."""
    record = RECORD.pack(kind, value)
    flags = 0 if wait else socket.MSG_DONTWAIT
    try:
        if descriptor is None:
            sent = link.send(record, flags)
        else:
            sent = socket.send_fds(link, [record], [descriptor], flags)
    except BlockingIOError:
        raise LinkBusy("the link is full") from None
    except OSError as err:  # EPIPE, ECONNRESET, EBADF: nobody reads this link any more
        raise LinkClosed(str(err)) from None
    if sent != RECORD.size:  # not reached: a Unix socket takes a small write whole
        raise LinkClosed("a record went out in part")


def receive_record(link: socket.socket, *, wait: bool = True) -> tuple[Kind, int, int | None]:
    """The next record: its kind, value and the descriptor it carried, if any (``None``
    also when one was sent but this process could not take it: out of descriptors);
    ``LinkClosed`` at the end of the link or for bytes that are not a record;
    ``BlockingIOError`` when ``wait`` is false and none is there."""
    flags = _CLOEXEC | (0 if wait else socket.MSG_DONTWAIT)
    try:
        data, ancillary, _flags, _address = link.recvmsg(RECORD.size, _ANCILLARY, flags)
    except BlockingIOError:
        raise
    except OSError as err:
        raise LinkClosed(str(err)) from None
    descriptors = [
        int.from_bytes(payload[i : i + 4], sys.byteorder)
        for level, kind, payload in ancillary
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS
        for i in range(0, len(payload) - len(payload) % 4, 4)
    ]
    if len(data) < RECORD.size and data:
        data += _exactly(link, RECORD.size - len(data))
    if not data:
        for descriptor in descriptors:
            os.close(descriptor)
        raise LinkClosed("the link ended")
    kind, value = RECORD.unpack(data)
    try:
        known = Kind(kind)
    except ValueError:
        for descriptor in descriptors:
            os.close(descriptor)
        raise LinkClosed(f"a record of unknown kind {kind}") from None
    for extra in descriptors[1:]:  # not sent: one rides on a record at most
        os.close(extra)
    return known, value, descriptors[0] if descriptors else None


def send_settings(link: socket.socket, settings: dict[str, Any]) -> None:
    """Send the replica its settings (first, once)."""
    document = json.dumps(settings).encode()
    if len(document) > MAX_SETTINGS_BYTES:
        raise ValueError("the settings are too large to send")
    send_record(link, Kind.SETTINGS, len(document))
    try:
        link.sendall(document)
    except OSError as err:
        raise LinkClosed(str(err)) from None


def receive_settings(link: socket.socket) -> dict[str, Any]:
    """The settings the emulator sent first (blocking); ``LinkClosed`` without them."""
    kind, length, descriptor = receive_record(link)
    if descriptor is not None:
        os.close(descriptor)
    if kind is not Kind.SETTINGS or length > MAX_SETTINGS_BYTES:
        raise LinkClosed("the link did not start with the replica's settings")
    settings = json.loads(_exactly(link, length))
    if not isinstance(settings, dict):
        raise LinkClosed("the replica's settings are not an object")
    return settings


def _exactly(link: socket.socket, count: int) -> bytes:
    chunks = []
    while count > 0:
        chunk = link.recv(count)
        if not chunk:
            raise LinkClosed("the link ended inside a record")
        chunks.append(chunk)
        count -= len(chunk)
    return b"".join(chunks)


class BusyTable:
    """Memory the emulator and one replica share: when the driver's current run started
    (0 while none runs), then a byte per slot: the state of that slot's connection
    (``IDLE``, ``READING`` once a request has begun, ``ANSWERING`` once its answer has).

    The replica writes it; the emulator reads it to answer for a replica that dies in a
    call (502) or whose driver runs past the timeout (504), and resets a slot it takes
    back.
    """

    _HEAD = struct.Struct("d")

    def __init__(self, descriptor: int, *, create: bool = False) -> None:
        size = self._HEAD.size + SLOTS
        if create:
            os.ftruncate(descriptor, size)
        self._memory = mmap.mmap(descriptor, size)

    @classmethod
    def new(cls) -> tuple[BusyTable, int]:
        """A new table, and the descriptor the replica maps it from (to be inherited)."""
        descriptor = _anonymous_file()
        return cls(descriptor, create=True), descriptor

    def mark(self, slot: int, state: int) -> None:
        """Say what the slot's connection is doing (the replica)."""
        self._memory[self._HEAD.size + slot] = state

    def state(self, slot: int) -> int:
        """What the slot's connection was doing (the emulator)."""
        return self._memory[self._HEAD.size + slot]

    def busy(self, slot: int) -> bool:
        """Whether the slot's connection is in a call whose answer has not started: the
        emulator may answer it (502, 504)."""
        return self.state(slot) == READING

    def clear(self, slot: int) -> None:
        """Forget a slot's state: it is free for another connection."""
        self.mark(slot, IDLE)

    def running(self, since: float) -> None:
        """Say the driver runs since ``since`` (``time.monotonic``), or none does (0)."""
        self._HEAD.pack_into(self._memory, 0, since)

    def running_since(self) -> float:
        """When the driver's current run started (``time.monotonic``, a clock every process
        of the machine shares), or 0 while none runs."""
        since: float = self._HEAD.unpack_from(self._memory, 0)[0]
        return since

    def close(self) -> None:
        """Unmap the table."""
        self._memory.close()


def _anonymous_file() -> int:
    """A descriptor of a file no path names, readable by this user only."""
    memfd_create = getattr(os, "memfd_create", None)
    if memfd_create is not None:
        return int(memfd_create("mms-busy", os.MFD_CLOEXEC))
    descriptor, path = tempfile.mkstemp(prefix="mms-busy-")  # elsewhere: one unlinked
    os.unlink(path)
    return descriptor
