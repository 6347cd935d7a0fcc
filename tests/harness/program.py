"""Running a real Pulumi program under the SDK's mocks, with every registration intercepted.

Each run happens on a fresh thread, so the SDK's context variables (settings, root stack,
config) start empty, as in a new ``pulumi`` process.
"""

from __future__ import annotations

import asyncio
import runpy
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import mocks, rpc
from pulumi.runtime.config import set_all_config
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.settings import SETTINGS, get_root_resource
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

Registration = dict[str, Any]
# (registration) -> (id, outputs for the program)
OnRegister = Callable[[Registration], tuple[str, dict[str, Any]]]


class _Unused(mocks.Mocks):
    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        raise AssertionError("the interceptor handles every resource")

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


class Interceptor(mocks.MockMonitor):
    """A mock monitor that hands each registration, raw, to the engine."""

    def __init__(self, on_register: OnRegister, on_read: OnRegister) -> None:
        super().__init__(_Unused())
        self._on_register = on_register
        self._on_read = on_read

    def RegisterResource(self, request: Any) -> Any:  # the gRPC method name
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == "pulumi:pulumi:Stack":
            return resource_pb2.RegisterResourceResponse(urn=urn)
        registration = {
            "urn": urn,
            "type": request.type,
            "name": request.name,
            "inputs": rpc.deserialize_properties(request.object, keep_unknowns=True),
            "dependencies": list(request.dependencies),
            "additional_secret_outputs": list(request.additionalSecretOutputs),
            "custom": request.custom,
        }
        ident, outputs = self._on_register(registration)
        payload = _sync_await(rpc.serialize_properties(outputs, {}))
        return resource_pb2.RegisterResourceResponse(urn=urn, id=ident, object=payload)

    def ReadResource(self, request: Any) -> Any:  # the gRPC method name
        urn = self.make_urn(request.parent, request.type, request.name)
        registration = {
            "urn": urn,
            "type": request.type,
            "name": request.name,
            "id": request.id,
            "inputs": rpc.deserialize_properties(request.properties, keep_unknowns=True),
            "additional_secret_outputs": list(request.additionalSecretOutputs),
        }
        _, outputs = self._on_read(registration)
        payload = _sync_await(rpc.serialize_properties(outputs, {}))
        return resource_pb2.ReadResourceResponse(urn=urn, properties=payload)


def run_program(
    program: Path,
    *,
    project: str,
    stack: str,
    preview: bool,
    config: dict[str, str],
    secret_keys: set[str],
    on_register: OnRegister,
    on_read: OnRegister,
) -> dict[str, Any]:
    """Run ``program/__main__.py``; return its stack outputs (secrets wrapped)."""
    result: dict[str, Any] = {}
    failure: list[BaseException] = []

    def target() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            # A failed earlier run leaves tasks of its closed loop in these process-wide
            # queues; a new `pulumi` process would start with them empty.
            SETTINGS.rpc_manager.clear()
            SETTINGS.outputs.clear()
            set_all_config(dict(config), sorted(secret_keys))
            monitor = Interceptor(on_register, on_read)
            mocks.set_mocks(monitor.mocks, project, stack, preview, monitor=monitor)

            async def main() -> None:
                runpy.run_path(str(program / "__main__.py"), run_name="__main__")

            loop.run_until_complete(run_pulumi_func(main))
            result.update(loop.run_until_complete(_stack_outputs()))
        except BaseException as err:  # re-raised on the caller's thread
            failure.append(err)
        finally:
            loop.close()

    sys.path.insert(0, str(program))
    try:
        thread = threading.Thread(target=target, name=f"program-{stack}")
        thread.start()
        thread.join()
    finally:
        sys.path.remove(str(program))
    if failure:
        raise failure[0]
    return result


async def _stack_outputs() -> dict[str, Any]:
    root = get_root_resource()
    outputs: dict[str, Any] = {}
    for name, value in getattr(root, "outputs", {}).items():
        output = pulumi.Output.from_input(value)
        resolved = await output.future(with_unknowns=True)
        secret = await output.is_secret()
        outputs[name] = rpc.wrap_rpc_secret(resolved) if secret else resolved
    return outputs
