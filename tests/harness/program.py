"""Running a real Pulumi program under the SDK's mocks, with every registration handed, as
the engine would receive it, to the harness's engine.

Each run happens on a fresh thread, so the SDK's context variables (settings, root stack,
config) start empty, as in a new language-host process; the few process-wide defaults the
SDK shares between threads are replaced before the program starts.
"""

from __future__ import annotations

import asyncio
import logging
import os
import runpy
import sys
import threading
from collections.abc import Callable, Mapping, Set
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import mocks, rpc
from pulumi.runtime.config import set_all_config
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.rpc_manager import RPCManager
from pulumi.runtime.settings import SETTINGS, get_root_resource
from pulumi.runtime.stack import run_pulumi_func

from tests.harness.wire import Props, from_struct, to_struct

# A program: a directory holding ``__main__.py``, or a callable run as the program body
# (a returned mapping is exported, as with ``pulumi.run``).
Program = Path | Callable[[], Any]


@dataclass
class Registration:
    """One RegisterResource or ReadResource request, as the engine sees it."""

    urn: str
    type: str
    name: str
    inputs: Props
    custom: bool = True
    parent: str = ""
    provider: str = ""
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    additional_secret_outputs: list[str] = field(default_factory=list)
    id: str = ""  # the ID to read (ReadResource / ``ResourceOptions(id=...)``)
    import_id: str = ""
    protect: bool = False
    retain_on_delete: bool = False
    delete_before_replace: bool | None = None
    ignore_changes: list[str] = field(default_factory=list)
    replace_on_changes: list[str] = field(default_factory=list)
    read: bool = False


# (registration) -> (id, outputs for the program, engine view)
Handler = Callable[[Registration], tuple[str, Props]]


class _NoMocks(mocks.Mocks):
    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        raise AssertionError("the interceptor handles every resource")

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


class Interceptor(mocks.MockMonitor):
    """A mock monitor that hands each registration to the engine, unchanged."""

    def __init__(self, on_register: Handler, on_read: Handler, *, preview: bool) -> None:
        super().__init__(_NoMocks())
        self._on_register = on_register
        self._on_read = on_read
        self._preview = preview

    def RegisterResource(self, request: Any) -> Any:  # the gRPC method name
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == "pulumi:pulumi:Stack":
            return resource_pb2.RegisterResourceResponse(urn=urn)
        registration = Registration(
            urn=urn,
            type=request.type,
            name=request.name,
            inputs=from_struct(request.object, preview=self._preview),
            custom=bool(request.custom),
            parent=request.parent,
            provider=request.provider,
            dependencies=list(request.dependencies),
            property_dependencies={
                key: list(deps.urns) for key, deps in request.propertyDependencies.items()
            },
            additional_secret_outputs=list(request.additionalSecretOutputs),
            import_id=request.importId,
            protect=bool(request.protect),
            retain_on_delete=bool(request.retainOnDelete),
            delete_before_replace=(
                request.deleteBeforeReplace if request.deleteBeforeReplaceDefined else None
            ),
            ignore_changes=list(request.ignoreChanges),
            replace_on_changes=list(request.replaceOnChanges),
        )
        ident, outputs = self._on_register(registration)
        payload = to_struct(outputs)
        self._remember(urn, ident, payload)
        return resource_pb2.RegisterResourceResponse(urn=urn, id=ident, object=payload)

    def ReadResource(self, request: Any) -> Any:  # the gRPC method name
        urn = self.make_urn(request.parent, request.type, request.name)
        registration = Registration(
            urn=urn,
            type=request.type,
            name=request.name,
            inputs=from_struct(request.properties, preview=self._preview),
            parent=request.parent,
            provider=request.provider,
            dependencies=list(request.dependencies),
            additional_secret_outputs=list(request.additionalSecretOutputs),
            id=request.id,
            read=True,
        )
        ident, outputs = self._on_read(registration)
        payload = to_struct(outputs)
        self._remember(urn, ident, payload)
        return resource_pb2.ReadResourceResponse(urn=urn, id=ident, properties=payload)

    def _remember(self, urn: str, ident: str, payload: Any) -> None:
        # For the SDK's own `pulumi:pulumi:getResource` invoke.
        state = rpc.deserialize_properties(payload)
        self.resources[urn] = mocks.MockMonitor.ResourceRegistration(urn, ident, state)


class _Diagnostics(logging.Handler):
    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.INFO)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(f"{record.levelname.lower()}: {record.getMessage()}")


def run_program(
    program: Program,
    *,
    root: Path | None = None,
    project: str,
    stack: str,
    preview: bool,
    config: Mapping[str, str],
    secret_keys: Set[str],
    on_register: Handler,
    on_read: Handler,
    diagnostics: list[str],
) -> Props:
    """Run the program to completion; return its stack outputs (engine view: secrets
    wrapped in place, unknowns as the sentinel). The program's own exception, if any, is
    re-raised. ``root`` is the project root (the directory of Pulumi.yaml), which the
    language host passes to the program as ``root_directory``
    (``sdk/python/cmd/pulumi-language-python/main.go`` ``constructArguments``); the working
    directory is the program's own (``getPwdMain``)."""
    outputs: Props = {}
    failure: list[BaseException] = []
    # Unmanaged logger: `pulumi.log` messages (the CLI prints info and above).
    logger = logging.Logger(f"program:{project}/{stack}")
    logger.addHandler(_Diagnostics(diagnostics))

    def body() -> Any:
        if isinstance(program, Path):
            runpy.run_path(str(program / "__main__.py"), run_name="__main__")
            return None
        return program()

    def target() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        # A failed registration also fails futures nobody awaits; the CLI shows the
        # failure once, so their "never retrieved" reports are dropped.
        loop.set_exception_handler(lambda _loop, _context: None)
        try:
            # Process-wide defaults the SDK shares between threads: start them empty.
            SETTINGS.rpc_manager = RPCManager()  # type: ignore[no-untyped-call]
            SETTINGS.outputs = set()
            set_all_config(dict(config), sorted(secret_keys))
            monitor = Interceptor(on_register, on_read, preview=preview)
            mocks.set_mocks(monitor.mocks, project, stack, preview, logger=logger, monitor=monitor)
            SETTINGS.root_directory = None if root is None else str(root)

            async def main() -> None:
                exported = body()
                if isinstance(exported, Mapping):
                    for name, value in exported.items():
                        pulumi.export(name, value)

            loop.run_until_complete(run_pulumi_func(main))
            outputs.update(loop.run_until_complete(_stack_outputs()))
        except BaseException as err:  # re-raised on the caller's thread
            failure.append(err)
        finally:
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    previous_cwd = os.getcwd()
    if isinstance(program, Path):
        sys.path.insert(0, str(program))
        os.chdir(program)
    try:
        thread = threading.Thread(target=target, name=f"pulumi-program-{stack}")
        thread.start()
        thread.join()
    finally:
        if isinstance(program, Path):
            os.chdir(previous_cwd)
            if str(program) in sys.path:
                sys.path.remove(str(program))
    if failure:
        raise failure[0]
    return outputs


async def _stack_outputs() -> Props:
    """The root stack's outputs, serialized as RegisterResourceOutputs would send them."""
    root = get_root_resource()
    exported = dict(getattr(root, "outputs", {}) or {})
    struct = await rpc.serialize_properties(exported, {})
    return from_struct(struct, preview=bool(SETTINGS.dry_run))
