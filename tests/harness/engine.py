"""The engine: preview, up, refresh and destroy with the Pulumi engine's call sequences.

Dynamic resources go to the real plugin process; any other resource (pulumi-kubernetes)
is mocked with its inputs as outputs. State is a JSON file in which secrets are always
ciphertext. Each operation returns the plan the CLI would print.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pulumi.output import Unknown

from tests.harness.plugin import PluginError, PluginProcess, unwrap
from tests.harness.secrets import decode, encode, mark_outputs, render, wrap

DYNAMIC_PREFIX = "pulumi-python:dynamic"


class EngineError(Exception):
    """An operation failed as `pulumi up` would: the message carries the plugin's error."""


@dataclass
class Step:
    """One line of the plan."""

    urn: str
    op: str  # create | update | replace | delete | same | read | refresh-delete | refresh-update
    replaces: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The resource's logical name."""
        return self.urn.rsplit("::", 1)[-1]


@dataclass
class Result:
    """What an operation did (or, for a preview, would do)."""

    steps: list[Step]
    outputs: dict[str, Any] = field(default_factory=dict)

    def ops(self) -> dict[str, str]:
        """Logical name → operation."""
        return {step.name: step.op for step in self.steps}

    @property
    def changes(self) -> bool:
        """Whether anything but reads and same steps happened."""
        return any(step.op not in ("same", "read") for step in self.steps)


@dataclass
class Resource:
    """A resource in state."""

    urn: str
    type: str
    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    dependencies: list[str] = field(default_factory=list)
    external: bool = False

    def to_json(self) -> dict[str, Any]:
        """For the state file (secrets encrypted)."""
        return {
            "urn": self.urn,
            "type": self.type,
            "id": self.id,
            "inputs": encode(self.inputs),
            "outputs": encode(self.outputs),
            "dependencies": self.dependencies,
            "external": self.external,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Resource:
        """From the state file."""
        return cls(
            urn=data["urn"],
            type=data["type"],
            id=data["id"],
            inputs=decode(data["inputs"]),
            outputs=decode(data["outputs"]),
            dependencies=list(data.get("dependencies", [])),
            external=bool(data.get("external")),
        )


class Engine:
    """Plays the Pulumi engine for one stack of a program directory."""

    def __init__(
        self,
        program: Path,
        *,
        project: str,
        stack: str,
        config: dict[str, str],
        secret_keys: set[str] | None = None,
        state_path: Path,
        env: dict[str, str] | None = None,
    ) -> None:
        self.program = program
        self.project = project
        self.stack = stack
        self.config = dict(config)
        self.secret_keys = set(secret_keys or ())
        self.state_path = state_path
        self.env = dict(env or {})
        self.plugin_output: list[str] = []

    # --- state -------------------------------------------------------------------------------

    def load(self) -> dict[str, Resource]:
        """Resources in state, in registration order."""
        if not self.state_path.exists():
            return {}
        data = json.loads(self.state_path.read_text())
        return {r["urn"]: Resource.from_json(r) for r in data["resources"]}

    def stack_outputs(self) -> dict[str, Any]:
        """The stack outputs recorded by the last `up` (secrets wrapped)."""
        if not self.state_path.exists():
            return {}
        return dict(decode(json.loads(self.state_path.read_text()).get("outputs", {})))

    def _save(self, resources: dict[str, Resource], outputs: dict[str, Any]) -> None:
        document = {
            "resources": [r.to_json() for r in resources.values()],
            "outputs": encode(outputs),
        }
        self.state_path.write_text(json.dumps(document, indent=2, sort_keys=True))

    def all_text(self) -> str:
        """Everything a user could see: state file, plugin output, rendered outputs."""
        state = self.state_path.read_text() if self.state_path.exists() else ""
        return "\n".join([state, *self.plugin_output, json.dumps(render(self.stack_outputs()))])

    # --- operations --------------------------------------------------------------------------

    def preview(self, *, expect_no_changes: bool = False) -> Result:
        """What `pulumi preview` shows; no Create or Update calls."""
        return self._deploy(preview=True, expect_no_changes=expect_no_changes)

    def up(self, *, expect_no_changes: bool = False) -> Result:
        """`pulumi up`: a preview (own plugin process), then the deployment."""
        self._deploy(preview=True, expect_no_changes=expect_no_changes)
        return self._deploy(preview=False, expect_no_changes=expect_no_changes)

    def refresh(self, *, expect_no_changes: bool = False) -> Result:
        """`pulumi refresh`: Read every resource, drop deleted ones, report drift."""
        resources = self.load()
        steps: list[Step] = []
        with self._plugin() as plugin:
            for urn, resource in list(resources.items()):
                if not resource.type.startswith(DYNAMIC_PREFIX):
                    continue
                ident, outs, inputs = plugin.read(
                    resource.id, urn, unwrap(resource.outputs), unwrap(resource.inputs)
                )
                if not ident:
                    del resources[urn]
                    steps.append(Step(urn, "refresh-delete"))
                    continue
                new_inputs = (
                    resource.inputs if inputs is None else mark_outputs(inputs, resource.inputs, ())
                )
                new_outputs = mark_outputs(outs, resource.outputs, ())
                drift = plugin.diff(
                    ident, urn, unwrap(new_outputs), unwrap(resource.inputs), unwrap(new_inputs)
                )
                steps.append(Step(urn, "refresh-update" if drift.kind == "some" else "same"))
                resources[urn] = Resource(
                    urn,
                    resource.type,
                    ident,
                    new_inputs,
                    new_outputs,
                    resource.dependencies,
                    resource.external,
                )
        self._save(resources, self.stack_outputs())
        result = Result(steps, self.stack_outputs())
        self._expect(result, expect_no_changes)
        return result

    def destroy(self) -> Result:
        """`pulumi destroy`: Delete every managed resource in reverse order."""
        resources = self.load()
        steps: list[Step] = []
        with self._plugin() as plugin:
            for urn in reversed(list(resources)):
                resource = resources.pop(urn)
                if resource.external:
                    continue
                self._delete(plugin, resource)
                steps.append(Step(urn, "delete"))
                self._save({**resources}, self.stack_outputs())
        self._save({}, {})
        return Result(steps)

    # --- the deployment ----------------------------------------------------------------------

    def _plugin(self) -> PluginProcess:
        plugin = PluginProcess(self.program, project=self.project, env=self.env)
        original_stop = plugin.stop

        def stop() -> None:
            original_stop()
            self.plugin_output.append(plugin.output)

        plugin.stop = stop  # type: ignore[method-assign]
        plugin.start()
        plugin.configure(self.config, self.secret_keys)
        return plugin

    def _deploy(self, *, preview: bool, expect_no_changes: bool) -> Result:
        from tests.harness.program import run_program

        old = self.load()
        new: dict[str, Resource] = {}
        steps: list[Step] = []
        replaced: list[Resource] = []
        failures: list[EngineError] = []
        inflight = threading.Condition()
        running = [0]
        with self._plugin() as plugin:

            def tracked(step: Any) -> tuple[str, dict[str, Any]]:
                with inflight:
                    running[0] += 1
                try:
                    return step()  # type: ignore[no-any-return]
                except EngineError as err:
                    failures.append(err)
                    raise
                finally:
                    with inflight:
                        running[0] -= 1
                        inflight.notify_all()

            def on_register(registration: dict[str, Any]) -> tuple[str, dict[str, Any]]:
                return tracked(
                    lambda: self._register(plugin, registration, old, new, steps, replaced, preview)
                )

            def on_read(registration: dict[str, Any]) -> tuple[str, dict[str, Any]]:
                return tracked(lambda: self._read(plugin, registration, new, steps))

            try:
                outputs = run_program(
                    self.program,
                    project=self.project,
                    stack=self.stack,
                    preview=preview,
                    config=self.config,
                    secret_keys=self.secret_keys,
                    on_register=on_register,
                    on_read=on_read,
                )
            except Exception as err:
                # The SDK may give up before calls already sent finish; the engine waits for them.
                with inflight:
                    inflight.wait_for(lambda: running[0] == 0, timeout=600)
                if not preview:
                    # Completed steps stay recorded, as the engine's snapshot does.
                    self._save({**old, **new}, self.stack_outputs())
                # The first resource failure is what the CLI reports, not the teardown noise.
                raise (failures[0] if failures else EngineError(str(err))) from err
            gone = [r for urn, r in old.items() if urn not in new and not r.external]
            for resource in reversed(gone):
                steps.append(Step(resource.urn, "delete"))
                if not preview:
                    self._delete(plugin, resource)
            if not preview:
                for resource in replaced:
                    self._delete(plugin, resource)
                self._save(new, outputs)
        result = Result(steps, outputs)
        self._expect(result, expect_no_changes)
        return result

    def _register(
        self,
        plugin: PluginProcess,
        registration: dict[str, Any],
        old_state: dict[str, Resource],
        new_state: dict[str, Resource],
        steps: list[Step],
        replaced: list[Resource],
        preview: bool,
    ) -> tuple[str, dict[str, Any]]:
        urn, kind = registration["urn"], registration["type"]
        inputs: dict[str, Any] = registration["inputs"]
        old = old_state.get(urn)
        if not kind.startswith(DYNAMIC_PREFIX):
            return self._mocked(registration, old, new_state, steps)
        plain = unwrap(inputs)
        checked, failures = plugin.check(urn, unwrap(old.inputs) if old else {}, plain)
        if failures:
            details = "; ".join(f"{prop}: {reason}" for prop, reason in failures)
            raise EngineError(f"{urn}: check failed: {details}")
        checked_marked = mark_outputs(checked, inputs, ())
        extra = registration["additional_secret_outputs"]
        if old is None:
            steps.append(Step(urn, "create"))
            ident, outs = ("", checked_marked) if preview else self._create(plugin, urn, checked)
        else:
            diff = plugin.diff(old.id, urn, unwrap(old.outputs), checked, unwrap(old.inputs))
            changed = diff.kind == "some" or (
                diff.kind == "unknown" and unwrap(old.inputs) != checked
            )
            if not changed:
                steps.append(Step(urn, "same"))
                new_state[urn] = Resource(
                    urn, kind, old.id, checked_marked, old.outputs, registration["dependencies"]
                )
                return old.id, old.outputs
            if diff.replaces:
                steps.append(Step(urn, "replace", diff.replaces))
                if preview:
                    ident, outs = "", checked_marked
                else:
                    if diff.delete_before_replace:
                        self._delete(plugin, old)
                    else:
                        replaced.append(old)
                    second, _ = plugin.check(urn, {}, plain)
                    ident, outs = self._create(plugin, urn, second)
            else:
                steps.append(Step(urn, "update"))
                ident = old.id
                outs = (
                    checked_marked
                    if preview
                    else self._call(
                        urn,
                        lambda: plugin.update(
                            old.id, urn, unwrap(old.outputs), checked, unwrap(old.inputs)
                        ),
                    )
                )
        marked = mark_outputs(outs, inputs, extra)
        if not preview:
            new_state[urn] = Resource(
                urn, kind, ident, checked_marked, marked, registration["dependencies"]
            )
        else:
            new_state[urn] = Resource(
                urn, kind, ident or "", checked_marked, marked, registration["dependencies"]
            )
        return ident, marked

    def _create(
        self, plugin: PluginProcess, urn: str, checked: dict[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        ident, outs = self._call(urn, lambda: plugin.create(urn, checked))
        if not ident:
            raise EngineError(f"{urn}: plugin returned empty resource.ID")
        return ident, outs

    @staticmethod
    def _call(urn: str, action: Any) -> Any:
        try:
            return action()
        except PluginError as err:
            raise EngineError(f"{urn}: {err.details}") from err

    def _read(
        self,
        plugin: PluginProcess,
        registration: dict[str, Any],
        new_state: dict[str, Resource],
        steps: list[Step],
    ) -> tuple[str, dict[str, Any]]:
        urn, props = registration["urn"], unwrap(registration["inputs"])
        if isinstance(registration["id"], Unknown) or not registration["id"]:
            return "", registration["inputs"]
        ident, outs, _ = self._call(urn, lambda: plugin.read(registration["id"], urn, props, props))
        marked = mark_outputs(outs, {}, registration["additional_secret_outputs"])
        steps.append(Step(urn, "read"))
        new_state[urn] = Resource(
            urn, registration["type"], ident, registration["inputs"], marked, [], external=True
        )
        return ident, marked

    def _mocked(
        self,
        registration: dict[str, Any],
        old: Resource | None,
        new_state: dict[str, Resource],
        steps: list[Step],
    ) -> tuple[str, dict[str, Any]]:
        urn, inputs = registration["urn"], registration["inputs"]
        if old is not None and unwrap(old.inputs) == unwrap(inputs):
            steps.append(Step(urn, "same"))
        else:
            steps.append(Step(urn, "update" if old else "create"))
        ident = old.id if old else f"{registration['name']}-id"
        new_state[urn] = Resource(
            urn, registration["type"], ident, inputs, inputs, registration["dependencies"]
        )
        return ident, inputs

    def _delete(self, plugin: PluginProcess, resource: Resource) -> None:
        if resource.type.startswith(DYNAMIC_PREFIX):
            self._call(
                resource.urn,
                lambda: plugin.delete(
                    resource.id, resource.urn, unwrap(resource.outputs), unwrap(resource.inputs)
                ),
            )

    @staticmethod
    def _expect(result: Result, expect_no_changes: bool) -> None:
        if expect_no_changes and result.changes:
            changed = {name: op for name, op in result.ops().items() if op not in ("same", "read")}
            raise EngineError(f"expected no changes, got {changed}")


__all__ = ["Engine", "EngineError", "Result", "Step", "wrap"]
