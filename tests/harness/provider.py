"""The engine's side of the provider protocol (Go ``provider_plugin.go``) for the dynamic
provider: the load sequence, secrets stripped on the way out (the plugin answers
``acceptSecrets=False``), ``annotateSecrets`` on the way back, and plugin failures turned
into :class:`EngineError`. Every call is logged as an :class:`RpcCall`."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Set
from typing import Any

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime.proto import provider_pb2

from tests.harness.plugin import DiffAnswer, PluginError, PluginProcess
from tests.harness.results import EngineError, RpcCall
from tests.harness.secrets import annotate, wrap
from tests.harness.wire import Props, from_struct, strip_secrets, to_struct

DYNAMIC_PREFIX = "pulumi-python:dynamic"
PROVIDER_TYPE = "pulumi:providers:pulumi-python"


def is_dynamic(type_: str) -> bool:
    """Whether a resource type is served by the dynamic-provider plugin."""
    return type_.startswith(DYNAMIC_PREFIX)


def provider_urn(project: str, stack: str) -> str:
    """The URN of the default provider serving every dynamic resource."""
    return f"urn:pulumi:{stack}::{project}::{PROVIDER_TYPE}::default"


class ProviderClient:
    """The default ``pulumi-python`` provider of one deployment, backed by one plugin."""

    def __init__(
        self, plugin: PluginProcess, *, urn: str, preview: bool, calls: list[RpcCall]
    ) -> None:
        self.plugin = plugin
        self.urn = urn
        self.preview = preview
        self.calls = calls

    # --- loading -----------------------------------------------------------------------------

    def load(self, config: Mapping[str, str], secret_keys: Set[str], *, in_state: bool) -> None:
        """What the engine does when it loads the provider: Handshake, GetPluginInfo,
        CheckConfig, DiffConfig (when the provider is in state), then Configure with the
        whole namespaced stack config, secrets wrapped."""
        args: Props = {k: wrap(v) if k in secret_keys else v for k, v in config.items()}
        # ``provider_plugin.go`` ``NewProvider`` sends the directory of the plugin binary (the
        # launch script, beside the CLI) as both directories; the dynamic provider answers
        # Handshake with UNIMPLEMENTED, so nothing here depends on the value.
        bin_dir = os.path.dirname(self.plugin.command[0])
        self._optional(
            "Handshake",
            provider_pb2.ProviderHandshakeRequest(
                engine_address="127.0.0.1:0", root_directory=bin_dir, program_directory=bin_dir
            ),
        )
        info = self.plugin.call("GetPluginInfo", empty_pb2.Empty())
        self._log("GetPluginInfo", answer={"version": info.version})
        news = to_struct(args)
        self._optional("CheckConfig", provider_pb2.CheckRequest(urn=self.urn, olds=news, news=news))
        if in_state:
            self._optional(
                "DiffConfig",
                provider_pb2.DiffRequest(urn=self.urn, olds=news, news=news, old_inputs=news),
            )
        answer = self.plugin.call(
            "Configure",
            provider_pb2.ConfigureRequest(
                args=news,
                acceptSecrets=True,
                acceptResources=True,
                sends_old_inputs=True,
                sends_old_inputs_to_delete=True,
                urn=self.urn,
                name="default",
                type=PROVIDER_TYPE,
                # The deprecated map, secrets in plaintext, keyed ``<pkg>:config:<key>``
                # (``pkg/resource/plugin/provider_plugin.go`` ``Configure``); the dynamic
                # plugin reads ``args`` only.
                variables={
                    f"pulumi-python:config:{key}": value
                    for key, value in config.items()
                    if key != "version"
                },
            ),
        )
        negotiated = {
            "acceptSecrets": answer.acceptSecrets,
            "supportsPreview": answer.supportsPreview,
            "acceptResources": answer.acceptResources,
        }
        self._log(
            "Configure",
            args={"keys": sorted(config), "values": dict(config), "secret": sorted(secret_keys)},
            answer=negotiated,
        )
        # The rest of the harness (plaintext to the provider, no Create in preview) relies on it.
        if answer.acceptSecrets or answer.supportsPreview or answer.acceptResources:
            raise EngineError(f"unexpected Configure negotiation from the plugin: {negotiated}")

    def _optional(self, method: str, request: Any) -> None:
        """A call the dynamic plugin leaves unimplemented; the engine then falls back."""
        try:
            self.plugin.call(method, request)
        except PluginError as err:
            if err.code != grpc.StatusCode.UNIMPLEMENTED:
                raise self._failure(method, self.urn, err) from None
            self._log(method, answer={"code": "UNIMPLEMENTED"})
        else:
            self._log(method)

    # --- resource calls ----------------------------------------------------------------------

    def check(self, urn: str, olds: Props, news: Props) -> tuple[Props, list[tuple[str, str]]]:
        """Check(olds = old inputs or {}, news) → (checked inputs annotated against news,
        failures)."""
        sent = {"olds": strip_secrets(olds), "news": strip_secrets(news)}
        request = provider_pb2.CheckRequest(
            urn=urn, olds=to_struct(sent["olds"]), news=to_struct(sent["news"])
        )
        answer, call = self._call("Check", urn, "", sent, request)
        inputs = annotate(from_struct(answer.inputs, preview=self.preview), news)
        failures = [(f.property, f.reason) for f in answer.failures]
        call.answer.update(inputs=inputs, failures=failures)
        return inputs, failures

    def diff(
        self,
        urn: str,
        id_: str,
        olds: Props,
        news: Props,
        old_inputs: Props,
        ignore_changes: list[str] | None = None,
    ) -> DiffAnswer:
        """Diff(id, olds = old outputs, news = checked inputs, old_inputs)."""
        sent = {
            "olds": strip_secrets(olds),
            "news": strip_secrets(news),
            "old_inputs": strip_secrets(old_inputs),
        }
        request = provider_pb2.DiffRequest(
            id=id_,
            urn=urn,
            olds=to_struct(sent["olds"]),
            news=to_struct(sent["news"]),
            old_inputs=to_struct(sent["old_inputs"]),
            ignoreChanges=list(ignore_changes or []),
        )
        answer, call = self._call("Diff", urn, id_, sent, request)
        diff = DiffAnswer(answer.changes, list(answer.replaces), answer.deleteBeforeReplace)
        call.answer.update(
            changes=diff.kind,
            replaces=diff.replaces,
            deleteBeforeReplace=diff.delete_before_replace,
        )
        return diff

    def create(self, urn: str, news: Props) -> tuple[str, Props]:
        """Create(properties = checked inputs) → (id, outputs annotated against them)."""
        sent = {"properties": strip_secrets(news)}
        request = provider_pb2.CreateRequest(urn=urn, properties=to_struct(sent["properties"]))
        answer, call = self._call("Create", urn, "", sent, request)
        call.answer.update(id=answer.id)
        return answer.id, annotate(from_struct(answer.properties), news)

    def update(self, urn: str, id_: str, olds: Props, news: Props, old_inputs: Props) -> Props:
        """Update(id, olds = old outputs, news = checked inputs) → outputs annotated against
        the new inputs."""
        sent = {
            "olds": strip_secrets(olds),
            "news": strip_secrets(news),
            "old_inputs": strip_secrets(old_inputs),
        }
        request = provider_pb2.UpdateRequest(
            id=id_,
            urn=urn,
            olds=to_struct(sent["olds"]),
            news=to_struct(sent["news"]),
            old_inputs=to_struct(sent["old_inputs"]),
        )
        answer, _ = self._call("Update", urn, id_, sent, request)
        return annotate(from_struct(answer.properties), news)

    def read(
        self, urn: str, id_: str, state: Props, inputs: Props
    ) -> tuple[str, Props, Props | None]:
        """Read(id, properties = state, inputs) → (id, outputs annotated against state,
        inputs annotated against the old inputs, or None when the provider sent none)."""
        sent = {"properties": strip_secrets(state), "inputs": strip_secrets(inputs)}
        request = provider_pb2.ReadRequest(
            id=id_,
            urn=urn,
            properties=to_struct(sent["properties"]),
            inputs=to_struct(sent["inputs"]),
        )
        answer, call = self._call("Read", urn, id_, sent, request)
        call.answer.update(id=answer.id)
        outputs = annotate(from_struct(answer.properties), state)
        new_inputs = (
            annotate(from_struct(answer.inputs), inputs) if answer.HasField("inputs") else None
        )
        return answer.id, outputs, new_inputs

    def delete(self, urn: str, id_: str, outputs: Props, inputs: Props) -> None:
        """Delete(id, properties = outputs, old_inputs)."""
        sent = {"properties": strip_secrets(outputs), "old_inputs": strip_secrets(inputs)}
        request = provider_pb2.DeleteRequest(
            id=id_,
            urn=urn,
            properties=to_struct(sent["properties"]),
            old_inputs=to_struct(sent["old_inputs"]),
        )
        self._call("Delete", urn, id_, sent, request)

    # --- plumbing ----------------------------------------------------------------------------

    def _call(
        self, method: str, urn: str, id_: str, sent: dict[str, Any], request: Any
    ) -> tuple[Any, RpcCall]:
        """Log the call (before it is made, so failed calls show too), then make it."""
        call = RpcCall(method, urn, id_, sent, {})
        self.calls.append(call)
        try:
            return self.plugin.call(method, request), call
        except PluginError as err:
            call.answer.update(error=err.details)
            raise self._failure(method, urn, err) from None

    def _failure(self, method: str, urn: str, err: PluginError) -> EngineError:
        if err.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED):
            # A dropped connection surfaces a moment before the exit status does.
            deadline = time.monotonic() + 2
            while self.plugin.alive() and time.monotonic() < deadline:
                time.sleep(0.02)
        if not self.plugin.alive():
            return EngineError(
                f"{urn}: {method} failed: the dynamic provider plugin (pid {self.plugin.pid}) "
                f"exited ({self.plugin.exit_description()}) while the call was in flight; "
                f"gRPC {err.code.name}: {err.details}",
                urn=urn,
                method=method,
                details=err.details,
            )
        return EngineError(f"{urn}: {err.details}", urn=urn, method=method, details=err.details)

    def _log(
        self,
        method: str,
        urn: str = "",
        id_: str = "",
        *,
        args: dict[str, Any] | None = None,
        answer: dict[str, Any] | None = None,
    ) -> None:
        self.calls.append(
            RpcCall(method, urn or self.urn, id_, dict(args or {}), dict(answer or {}))
        )
