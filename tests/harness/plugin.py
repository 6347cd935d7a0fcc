"""The dynamic-provider plugin process, started and spoken to as the Pulumi CLI does.

``python -u -m pulumi.dynamic <engine address>`` in the program's directory, in its own
process group, with ``PULUMI_PROJECT`` set; the first stdout line is the gRPC port; stdout
and stderr are drained for the whole run (the CLI shows both to the user, so tests check
them for secrets); stop is SIGINT to the group, then SIGKILL after 5 s.

Besides the raw stub, the class keeps small convenience methods (``check``, ``create``…)
that decode answers with the SDK's own deserializer; the engine emulation uses
:class:`tests.harness.provider.ProviderClient` instead, which decodes as the engine does.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import grpc
from google.protobuf import empty_pb2, struct_pb2
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

REPO_ROOT = Path(__file__).resolve().parents[2]
STOP_GRACE_SECONDS = 5.0
CALL_TIMEOUT_SECONDS = 600.0


class PluginError(Exception):
    """A gRPC call to the plugin failed; carries the status and the plugin's traceback."""

    def __init__(self, method: str, error: grpc.RpcError) -> None:
        self.method = method
        self.code: grpc.StatusCode = error.code()
        self.details: str = error.details() or ""
        super().__init__(f"{method} failed ({self.code.name}): {self.details}")


def checkout_on_path(env: Mapping[str, str]) -> str:
    """``PYTHONPATH`` of ``env`` with this checkout first, so ``tests`` is importable."""
    return os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)


def serialized_provider(provider: Any) -> str:
    """The ``__provider`` value a resource of this provider carries."""
    return str(serialize_provider(provider))


def to_struct(values: Mapping[str, Any]) -> struct_pb2.Struct:
    """Python values → the wire struct, with the SDK's serializer (unknowns as
    ``rpc.UNKNOWN``)."""
    return asyncio.run(rpc.serialize_properties(dict(values), {}))


def from_struct(struct: struct_pb2.Struct, *, keep_secrets: bool = True) -> dict[str, Any]:
    """The wire struct → Python values with the SDK's deserializer (which moves nested
    secrets up to their enclosing object, and turns unknowns into ``Unknown``)."""
    values = dict(rpc.deserialize_properties(struct, keep_unknowns=True))
    return values if keep_secrets else dict(unwrap(values))


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
        if self.changes == provider_pb2.DiffResponse.DIFF_NONE:
            return "none"
        if self.changes == provider_pb2.DiffResponse.DIFF_SOME:
            return "some"
        return "unknown"


class PluginProcess:
    """One plugin process. Calls are thread-safe (the plugin serves 4 at a time).

    ``cwd`` is the program directory. Either ``command`` and ``env`` are given whole, as
    :func:`tests.harness.project.plugin_launch` computes them from the launch script, or
    ``python`` (default: this interpreter) runs ``-u -m pulumi.dynamic`` with ``env`` added
    to this process's environment after ``PULUMI_PROJECT`` and this checkout on
    ``PYTHONPATH`` (for direct plugin tests of providers defined in ``tests``).
    """

    def __init__(
        self,
        cwd: Path,
        *,
        project: str = "project",
        env: Mapping[str, str] | None = None,
        python: str | None = None,
        command: Sequence[str] | None = None,
    ) -> None:
        self.cwd = Path(cwd)
        self.project = project
        self.env = dict(env or {})
        self.python = python or sys.executable
        self.whole = command is not None
        self.command = list(command or [self.python, "-u", "-m", "pulumi.dynamic"])
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._process: subprocess.Popen[str] | None = None
        self._drains: list[threading.Thread] = []
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

    # --- process -----------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """The plugin's process id (also its process group id), once started."""
        return None if self._process is None else self._process.pid

    @property
    def output(self) -> str:
        """Everything the plugin printed so far (what the CLI would show)."""
        return "".join(self.stdout) + "".join(self.stderr)

    @property
    def lines(self) -> list[str]:
        """The plugin's output as lines, stdout first (the CLI shows stdout as info and
        stderr as info-error)."""
        return [line.rstrip("\n") for line in [*self.stdout, *self.stderr]]

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self._process is not None and self._process.poll() is None

    def exit_description(self) -> str:
        """How the process ended, for error messages ("killed by SIGKILL", "exit code 1")."""
        if self._process is None:
            return "never started"
        code = self._process.poll()
        if code is None:
            return "still running"
        if code < 0:
            return f"killed by {signal.Signals(-code).name}"
        return f"exit code {code}"

    def start(self) -> None:
        """Launch the plugin and connect to it (once)."""
        if self._process is not None:
            return
        if self.whole:
            env = dict(self.env)
        else:
            env = {**os.environ, "PULUMI_PROJECT": self.project, **self.env}
            # The plugin must import providers defined in the tests by reference.
            env["PYTHONPATH"] = checkout_on_path(env)
        self._process = subprocess.Popen(
            [*self.command, "127.0.0.1:0"],
            cwd=self.cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            # The engine starts a plugin in its own process group with a stdin pipe
            # (``sdk/go/common/util/cmdutil/child_unix.go``: ``Setpgid: true``;
            # ``pkg/resource/plugin/plugin.go`` ``ExecPlugin``: ``cmd.StdinPipe()``).
            stdin=subprocess.PIPE,
            process_group=0,
        )
        assert self._process.stdout is not None and self._process.stderr is not None
        self._drains = [
            threading.Thread(target=_drain, args=(self._process.stderr, self.stderr), daemon=True)
        ]
        self._drains[0].start()
        port = self._process.stdout.readline().strip()
        if not port.isdigit():
            self._process.kill()
            self._process.wait(timeout=STOP_GRACE_SECONDS)
            self._join_drains()
            raise RuntimeError(
                f"the plugin did not print its port (got {port!r}); stderr:\n"
                + "".join(self.stderr)
            )
        stdout_drain = threading.Thread(
            target=_drain, args=(self._process.stdout, self.stdout), daemon=True
        )
        stdout_drain.start()
        self._drains.append(stdout_drain)
        self._channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(self._channel).result(timeout=30)
        self.stub = provider_pb2_grpc.ResourceProviderStub(self._channel)

    def stop(self) -> None:
        """Cancel, then SIGINT to the process group, then a hard kill after 5 s, as the CLI
        releases a plugin (``pkg/host/host.go`` ``hostManagedProvider.Close``:
        ``SignalCancellation``, the Cancel RPC the Python plugin does not implement, before
        ``Close``)."""
        running = self._process is not None and self._process.poll() is None
        if running and self._channel is not None and self.stub is not None:
            with contextlib.suppress(grpc.RpcError):
                self.stub.Cancel(empty_pb2.Empty(), timeout=STOP_GRACE_SECONDS)
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=STOP_GRACE_SECONDS)
        self._close_stdin()
        self._join_drains()

    def kill(self) -> None:
        """SIGKILL to the process group: an interrupted ``pulumi up``."""
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait(timeout=STOP_GRACE_SECONDS)
        self._close_stdin()

    def _close_stdin(self) -> None:
        if self._process is not None and self._process.stdin is not None:
            with contextlib.suppress(OSError):
                self._process.stdin.close()

    def _join_drains(self) -> None:
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for drain in self._drains:
            drain.join(timeout=max(0.0, deadline - time.monotonic()))

    # --- raw calls ---------------------------------------------------------------------------

    def call(self, method: str, request: Any, *, timeout: float = CALL_TIMEOUT_SECONDS) -> Any:
        """One unary RPC by name; a gRPC failure becomes :class:`PluginError`."""
        assert self.stub is not None, "the plugin is not running"
        try:
            return getattr(self.stub, method)(request, timeout=timeout)
        except grpc.RpcError as err:
            raise PluginError(method, err) from None

    _call = call  # the earlier private name

    # --- convenience calls (SDK-decoded answers) ---------------------------------------------

    def configure(self, config: Mapping[str, str], secret_keys: Set[str] = frozenset()) -> Any:
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
        return self.call("Configure", request)

    def check(
        self, urn: str, olds: Mapping[str, Any], news: Mapping[str, Any]
    ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """Check → (checked inputs, [(property, reason)])."""
        answer = self.call(
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
        answer = self.call(
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
        answer = self.call(
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
        answer = self.call(
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
        answer = self.call(
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
        self.call(
            "Delete",
            provider_pb2.DeleteRequest(
                id=id_,
                urn=urn,
                properties=to_struct(properties),
                old_inputs=to_struct(old_inputs or {}),
            ),
        )


def _drain(stream: IO[str], sink: list[str]) -> None:
    for line in stream:
        sink.append(line)
