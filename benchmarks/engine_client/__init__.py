"""A preview's Check and Diff timed from a Go gRPC client, as the Pulumi engine sends them.

The Python stub in ``benchmarks.preview`` spends about 0.2 ms of its own CPU per call, which
the engine (grpc-go) does not; ``main.go`` beside this file makes the same calls from
grpc-go with the requests already encoded, so its figure is the plugin's cost alone. It is
built on demand with Go's GOPATH mode against an installed grpc-go (Debian:
``apt-get install golang-go golang-google-grpc-dev``); where either is missing the
benchmark reports why and keeps the Python client's figures.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

SOURCE = Path(__file__).with_name("main.go")
# Where Debian's golang-google-grpc-dev puts grpc-go; GOPATH in the environment wins.
DEBIAN_GOPATH = "/usr/share/gocode"
INSTALL_HINT = "apt-get install golang-go golang-google-grpc-dev"
BUILD_SECONDS = 300.0
RUN_SECONDS = 600.0
_LENGTH = struct.Struct("<I")


class EngineClientUnavailable(RuntimeError):
    """The Go client could not be built or run here; the message says why."""


@dataclass(frozen=True)
class EngineClientFigures:
    """Milliseconds per resource, best round, from grpc-go."""

    preview: float  # Check + Diff
    floor: float  # two empty GetPluginInfo calls


def encode_records(messages: Iterable[bytes]) -> bytes:
    """The client's file format: each message as a 4-byte little-endian length, then it."""
    return b"".join(_LENGTH.pack(len(message)) + message for message in messages)


def decode_records(data: bytes) -> list[bytes]:
    """The inverse of ``encode_records``; a truncated file is an error, not a short list."""
    records = []
    offset = 0
    while offset < len(data):
        if len(data) - offset < _LENGTH.size:
            raise ValueError(f"truncated length at byte {offset}")
        (size,) = _LENGTH.unpack_from(data, offset)
        offset += _LENGTH.size
        if len(data) - offset < size:
            raise ValueError(f"truncated record at byte {offset}: {size} bytes announced")
        records.append(data[offset : offset + size])
        offset += size
    return records


def build(into: Path) -> Path:
    """Build the client into ``into``; ``EngineClientUnavailable`` names what is missing."""
    go = shutil.which("go")
    if go is None:
        raise EngineClientUnavailable(f"no Go toolchain on PATH ({INSTALL_HINT})")
    binary = into / "engine_client"
    env = {
        **os.environ,
        "GO111MODULE": "off",
        "GOPATH": os.environ.get("GOPATH") or DEBIAN_GOPATH,
        "GOFLAGS": "",
    }
    try:
        subprocess.run(
            [go, "build", "-o", str(binary), str(SOURCE)],
            env=env,
            cwd=into,
            capture_output=True,
            text=True,
            check=True,
            timeout=BUILD_SECONDS,
        )
    except subprocess.CalledProcessError as err:
        lines = (err.stderr or "").strip().splitlines() or ["no output"]
        raise EngineClientUnavailable(
            f"go build failed: {lines[0]} (grpc-go in GOPATH? {INSTALL_HINT})"
        ) from None
    except subprocess.TimeoutExpired:
        raise EngineClientUnavailable(f"go build took over {BUILD_SECONDS:.0f} s") from None
    return binary


def run(
    binary: Path, address: str, requests: list[bytes], workdir: Path, rounds: int = 7
) -> tuple[EngineClientFigures, list[bytes]]:
    """Time Check/Diff request pairs against the plugin at ``address``; the figures and the
    last round's answers (Check, Diff, ... in request order), for the caller to verify."""
    requests_file = workdir / "requests.bin"
    answers_file = workdir / "answers.bin"
    requests_file.write_bytes(encode_records(requests))
    try:
        done = subprocess.run(
            [
                str(binary),
                "-addr",
                address,
                "-requests",
                str(requests_file),
                "-answers",
                str(answers_file),
                "-rounds",
                str(rounds),
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=RUN_SECONDS,
        )
    except subprocess.CalledProcessError as err:
        raise EngineClientUnavailable(f"the Go client failed: {err.stderr.strip()}") from None
    except subprocess.TimeoutExpired:
        raise EngineClientUnavailable(f"the Go client took over {RUN_SECONDS:.0f} s") from None
    figures = json.loads(done.stdout)
    answers = decode_records(answers_file.read_bytes())
    if len(answers) != len(requests):
        raise EngineClientUnavailable(
            f"the Go client answered {len(answers)} of {len(requests)} requests"
        )
    return (
        EngineClientFigures(
            preview=float(figures["preview_ms_per_resource"]),
            floor=float(figures["floor_ms_per_resource"]),
        ),
        answers,
    )
