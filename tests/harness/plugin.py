"""The dynamic-provider plugin process, started and spoken to as the Pulumi CLI does.

``python -u -m pulumi.dynamic <engine address>`` in the program's directory, in its own
process group; the first stdout line is the gRPC port; stdout and stderr are drained for
the whole run (the CLI shows them to the user, so tests check them for secrets).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import grpc
from google.protobuf import struct_pb2
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

REPO_ROOT = Path(__file__).resolve().parents[2]


class PluginError(Exception):
    """A gRPC call to the plugin failed; carries the status and the plugin's traceback."""

    def __init__(self, method: str, error: grpc.RpcError) -> None:
        self.method = method
        self.code = error.code()
        self.details = error.details() or ""
        super().__init__(f"{method} failed ({self.code.name}): {self.details}")


def serialized_provider(provider: Any) -> str:
    """The ``__provider`` value a resource of this provider carries."""
    return str(serialize_provider(provider))


def to_struct(values: Mapping[str, Any]) -> struct_pb2.Struct:
    """Python values → the wire struct (unknowns as ``rpc.UNKNOWN``)."""
    return asyncio.run(rpc.serialize_properties(dict(values), {}))


def from_struct(struct: struct_pb2.Struct, *, keep_secrets: bool = True) -> dict[str, Any]:
    """The wire struct → Python values; secrets stay wrapped unless asked otherwise."""
    values = rpc.deserialize_properties(struct, keep_unknowns=True)
    return values if keep_secrets else unwrap(values)


def unwrap(value: Any) -> Any:
    """Remove secret wrappers at any depth (what the engine sends a provider)."""
    if rpc.is_rpc_secret(value):
        return unwrap(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {key: unwrap(item) for key, item in value.items()}
    if isinstance(value, list):
        return [unwrap(item) for item in value]
    return value


@dataclass(frozen=True)
class DiffAnswer:
    """The plugin's Diff response, decoded."""

    changes: int
    replaces: list[str]
    delete_before_replace: bool

    @property
    def kind(self) -> str:
        """``none``, ``some`` or ``unknown``."""
        return {
            provider_pb2.DiffResponse.DIFF_NONE: "none",
            provider_pb2.DiffResponse.DIFF_SOME: "some",
        }.get(self.changes, "unknown")


class PluginProcess:
    """One plugin process; thread-safe calls, one per RPC the engine makes."""

    def __init__(
        self, cwd: Path, *, project: str = "project", env: Mapping[str, str] | None = None
    ):
        self.cwd = cwd
        self.project = project
        self.env = dict(env or {})
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._process: subprocess.Popen[str] | None = None
        self._channel: grpc.Channel | None = None
        self.stub: provider_pb2_grpc.ResourceProviderStub | None = None

    def __enter__(self) -> PluginProcess:
        self.start()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def output(self) -> str:
        """Everything the plugin printed (what the CLI would show)."""
        return "".join(self.stdout) + "".join(self.stderr)

    def start(self) -> None:
        """Launch the plugin and connect to it (once)."""
        if self._process is not None:
            return
        env = {**os.environ, "PULUMI_PROJECT": self.project, **self.env}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
        self._process = subprocess.Popen(
            [sys.executable, "-u", "-m", "pulumi.dynamic", "127.0.0.1:0"],
            cwd=self.cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        assert self._process.stdout is not None and self._process.stderr is not None
        port = self._process.stdout.readline().strip()
        if not port.isdigit():
            self._process.kill()
            raise RuntimeError(f"the plugin did not print its port: {port!r}")
        for stream, sink in (
            (self._process.stdout, self.stdout),
            (self._process.stderr, self.stderr),
        ):
            threading.Thread(target=_drain, args=(stream, sink), daemon=True).start()
        self._channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(self._channel).result(timeout=30)
        self.stub = provider_pb2_grpc.ResourceProviderStub(self._channel)

    def stop(self) -> None:
        """SIGINT to the process group, then a hard kill after 5 s (as the CLI does)."""
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        process = self._process
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)

    def kill(self) -> None:
        """SIGKILL mid-run: an interrupted ``pulumi up``."""
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait(timeout=5)

    def _call(self, method: str, request: Any) -> Any:
        assert self.stub is not None, "the plugin is not running"
        try:
            return getattr(self.stub, method)(request, timeout=600)
        except grpc.RpcError as err:
            raise PluginError(method, err) from None

    # --- the engine's calls ------------------------------------------------------------------

    def configure(self, config: Mapping[str, str], secret_keys: set[str] = frozenset()) -> Any:  # type: ignore[assignment]
        """Configure with the whole namespaced stack config, secrets wrapped."""
        args = {
            key: rpc.wrap_rpc_secret(value) if key in secret_keys else value
            for key, value in config.items()
        }
        request = provider_pb2.ConfigureRequest(
            args=to_struct(args),
            acceptSecrets=True,
            acceptResources=True,
            sends_old_inputs=True,
            sends_old_inputs_to_delete=True,
        )
        return self._call("Configure", request)

    def check(
        self, urn: str, olds: Mapping[str, Any], news: Mapping[str, Any]
    ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """Check → (checked inputs, [(property, reason)])."""
        answer = self._call(
            "Check", provider_pb2.CheckRequest(urn=urn, olds=to_struct(olds), news=to_struct(news))
        )
        return from_struct(answer.inputs), [(f.property, f.reason) for f in answer.failures]

    def diff(
        self,
        id_: str,
        urn: str,
        olds: Mapping[str, Any],
        news: Mapping[str, Any],
        old_inputs: Mapping[str, Any] | None = None,
    ) -> DiffAnswer:
        """Diff(olds = old outputs, news = checked inputs)."""
        answer = self._call(
            "Diff",
            provider_pb2.DiffRequest(
                id=id_,
                urn=urn,
                olds=to_struct(olds),
                news=to_struct(news),
                old_inputs=to_struct(old_inputs or {}),
            ),
        )
        return DiffAnswer(answer.changes, list(answer.replaces), answer.deleteBeforeReplace)

    def create(self, urn: str, properties: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """Create → (id, outputs)."""
        answer = self._call(
            "Create", provider_pb2.CreateRequest(urn=urn, properties=to_struct(properties))
        )
        return answer.id, from_struct(answer.properties)

    def update(
        self,
        id_: str,
        urn: str,
        olds: Mapping[str, Any],
        news: Mapping[str, Any],
        old_inputs: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Update(olds = old outputs, news = checked inputs) → outputs."""
        answer = self._call(
            "Update",
            provider_pb2.UpdateRequest(
                id=id_,
                urn=urn,
                olds=to_struct(olds),
                news=to_struct(news),
                old_inputs=to_struct(old_inputs or {}),
            ),
        )
        return from_struct(answer.properties)

    def read(
        self,
        id_: str,
        urn: str,
        properties: Mapping[str, Any],
        inputs: Mapping[str, Any] | None = None,
    ) -> tuple[str, dict[str, Any], dict[str, Any] | None]:
        """Read → (id, outputs, inputs or None); an empty id means the object is gone."""
        answer = self._call(
            "Read",
            provider_pb2.ReadRequest(
                id=id_, urn=urn, properties=to_struct(properties), inputs=to_struct(inputs or {})
            ),
        )
        inputs_back = from_struct(answer.inputs) if answer.HasField("inputs") else None
        return answer.id, from_struct(answer.properties), inputs_back

    def delete(
        self,
        id_: str,
        urn: str,
        properties: Mapping[str, Any],
        old_inputs: Mapping[str, Any] | None = None,
    ) -> None:
        """Delete(properties = outputs)."""
        self._call(
            "Delete",
            provider_pb2.DeleteRequest(
                id=id_,
                urn=urn,
                properties=to_struct(properties),
                old_inputs=to_struct(old_inputs or {}),
            ),
        )


def _drain(stream: Any, sink: list[str]) -> None:
    for line in stream:
        sink.append(line)
