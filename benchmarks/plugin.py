"""The benchmark's own driver of the dynamic-provider plugin: just enough to time `pulumi up`.

It launches the plugin as the Pulumi CLI's Python language host does
(``python -u -m pulumi.dynamic <engine address>``, in its own process group; the first
stdout line is the gRPC port) and makes Configure, Check, Diff and Create calls, encoded
with the SDK's own serializer. The test suite's full engine model lives in
``tests/harness``; the benchmark does not import the tests, so it runs from any checkout
with the dev dependencies installed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Set
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import grpc
from google.protobuf import struct_pb2
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

STOP_GRACE_SECONDS = 5.0


def serialized_provider(provider: Any) -> str:
    """The ``__provider`` value a resource of this provider carries."""
    return str(serialize_provider(provider))


def _struct(values: Mapping[str, Any]) -> struct_pb2.Struct:
    return asyncio.run(rpc.serialize_properties(dict(values), {}))


def _values(struct: struct_pb2.Struct) -> dict[str, Any]:
    return dict(rpc.deserialize_properties(struct, keep_unknowns=True))


class Plugin:
    """One plugin process in ``cwd``, with ``env`` added to this process's environment."""

    def __init__(self, cwd: Path, env: Mapping[str, str] | None = None) -> None:
        environ = {**os.environ, "PULUMI_PROJECT": "bench", **(env or {})}
        self._process = subprocess.Popen(
            [sys.executable, "-u", "-m", "pulumi.dynamic", "127.0.0.1:0"],
            cwd=cwd,
            env=environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            start_new_session=True,
        )
        assert self._process.stdout is not None and self._process.stderr is not None
        self.stderr: list[str] = []
        _drain_in_background(self._process.stderr, self.stderr)
        port = self._process.stdout.readline().strip()
        if not port.isdigit():
            self.stop()
            raise RuntimeError(f"the plugin printed no port: {''.join(self.stderr)[-2000:]}")
        _drain_in_background(self._process.stdout, [])
        self.address = f"127.0.0.1:{port}"
        self._channel = grpc.insecure_channel(self.address)
        grpc.channel_ready_future(self._channel).result(timeout=30)
        self._stub = provider_pb2_grpc.ResourceProviderStub(self._channel)

    def __enter__(self) -> Plugin:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """SIGINT to the process group, then SIGKILL after a grace period (as the CLI does)."""
        self._channel_close()
        if self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGINT)
            try:
                self._process.wait(timeout=STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait(timeout=STOP_GRACE_SECONDS)

    def _channel_close(self) -> None:
        channel = getattr(self, "_channel", None)
        if channel is not None:
            channel.close()
            self._channel = None

    @property
    def pid(self) -> int:
        """The plugin process's id (for its CPU time)."""
        return self._process.pid

    @property
    def stub(self) -> provider_pb2_grpc.ResourceProviderStub:
        """The gRPC stub, for calls with requests built in advance."""
        return self._stub

    def configure(self, config: Mapping[str, str], secret_keys: Set[str] = frozenset()) -> None:
        """Configure with the stack config, secret keys wrapped as the engine sends them."""
        args = {k: rpc.wrap_rpc_secret(v) if k in secret_keys else v for k, v in config.items()}
        self._stub.Configure(
            provider_pb2.ConfigureRequest(
                args=_struct(args), acceptSecrets=True, acceptResources=True
            )
        )

    def check(
        self, urn: str, olds: Mapping[str, Any], news: Mapping[str, Any]
    ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """Check → (checked inputs, [(property, reason)])."""
        answer = self._stub.Check(
            provider_pb2.CheckRequest(urn=urn, olds=_struct(olds), news=_struct(news))
        )
        return _values(answer.inputs), [(f.property, f.reason) for f in answer.failures]

    def diff(self, id_: str, urn: str, olds: Mapping[str, Any], news: Mapping[str, Any]) -> int:
        """Diff → the DiffResponse ``changes`` value."""
        answer = self._stub.Diff(
            provider_pb2.DiffRequest(id=id_, urn=urn, olds=_struct(olds), news=_struct(news))
        )
        return int(answer.changes)

    def create(self, urn: str, properties: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """Create → (id, outputs)."""
        answer = self._stub.Create(
            provider_pb2.CreateRequest(urn=urn, properties=_struct(properties))
        )
        return str(answer.id), _values(answer.properties)


def _drain_in_background(stream: IO[str], sink: list[str]) -> None:
    def drain() -> None:
        for line in stream:
            sink.append(line)

    threading.Thread(target=drain, daemon=True).start()
