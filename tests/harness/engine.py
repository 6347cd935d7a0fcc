"""The engine: ``preview``, ``up``, ``refresh`` and ``destroy`` of one stack, driving the real
dynamic-provider plugin with the Pulumi engine's call sequences.

Dynamic resources go to a plugin process (a new one per deployment, as the CLI starts one
per operation: ``up`` runs a preview with its own plugin, then the update with another);
any other resource (pulumi-kubernetes…) is mocked with its inputs as outputs. State is a
JSON file in which secrets are always ciphertext. Each operation returns a
:class:`Result` with the plan the CLI would print.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from tests.harness.deployment import Deployment, changed_keys
from tests.harness.plugin import PluginProcess, checkout_on_path
from tests.harness.program import Program, run_program
from tests.harness.project import PluginLaunchError, Project, plugin_launch
from tests.harness.provider import ProviderClient, is_dynamic, provider_urn
from tests.harness.results import EngineError, Result, RpcCall, Step
from tests.harness.secrets import render, step_rules
from tests.harness.state import Protected, Resource, Snapshot, StateFile, delete_order
from tests.harness.wire import Props

__all__ = ["Engine", "EngineError", "Result", "RpcCall", "Step"]


class Engine:
    """Plays the Pulumi engine (and CLI) for one stack of one program.

    ``program`` is a project directory holding ``Pulumi.yaml`` (its ``main:`` and runtime
    options are honoured: the program and the plugin run in the ``main:`` directory, the
    plugin is launched as the launch script would launch it), a bare directory holding
    ``__main__.py``, or a callable run as the program body. ``config`` holds namespaced keys
    (``"mms:endpoint"``); ``secret_keys`` says which are secret. ``state_path`` is the JSON
    state file, shared by every Engine pointed at it. ``env`` stands for the user's shell:
    it is added to the environment the plugin is launched with (``PULUMI_PYTHON_CMD`` among
    others; without one, a project with no ``virtualenv`` option gets this interpreter).
    ``cwd`` is the plugin's working directory for a callable program (default: the state
    file's directory).

    ``config`` and ``secret_keys`` may be changed between operations, like
    ``pulumi config set``. ``on_plugin`` is called with each plugin process right after it
    starts, with the phase name ("preview", "update", "refresh", "destroy").
    """

    def __init__(
        self,
        program: Program,
        *,
        project: str,
        stack: str,
        config: Mapping[str, str] | None = None,
        secret_keys: Iterable[str] | None = None,
        state_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.manifest: Project | None = None
        self.root: Path | None = None
        if isinstance(program, (str, Path)):
            directory = Path(program).resolve()
            if (directory / "Pulumi.yaml").exists():
                self.manifest = Project.load(directory)
                if self.manifest.name != project:
                    raise ValueError(f"{directory}/Pulumi.yaml names {self.manifest.name!r}")
                # ``getPwdMain``: the program runs from the ``main:`` directory.
                directory = self.manifest.pwd
            self.program: Program = directory
            self.root = self.manifest.root if self.manifest else directory
        else:
            self.program = program
        self.project = project
        self.stack = stack
        self.config: dict[str, str] = dict(config or {})
        self.secret_keys: set[str] = set(secret_keys or ())
        self.state_path = Path(state_path).resolve()
        self.env: dict[str, str] = dict(env or {})
        if cwd is not None:
            self.cwd = Path(cwd).resolve()
        elif isinstance(self.program, Path):
            self.cwd = self.program
        else:
            self.cwd = self.state_path.parent
        self.state = StateFile(self.state_path, project=project, stack=stack)
        self.results: list[Result] = []
        self.errors: list[str] = []
        self.plugin_output: list[str] = []
        self.on_plugin: Callable[[PluginProcess, str], None] | None = None
        self.current_plugin: PluginProcess | None = None

    # --- state -------------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """The whole state file, decoded (secrets wrapped)."""
        return self.state.load()

    def load(self) -> dict[str, Resource]:
        """Resources in state (not pending deletion), by URN, in state order."""
        return self.state.load().live()

    def stack_outputs(self) -> Props:
        """The stack outputs recorded by the last ``up`` (secrets wrapped)."""
        return self.state.load().outputs

    def all_text(self) -> str:
        """Everything a user could see: the state file, all plugin output, every rendered
        plan and its outputs, and every error message."""
        rendered = [result.render() for result in self.results]
        stack = json.dumps(render(self.stack_outputs()), sort_keys=True)
        return "\n".join([self.state.text(), *self.plugin_output, *rendered, stack, *self.errors])

    # --- operations --------------------------------------------------------------------------

    def preview(self, *, expect_no_changes: bool = False) -> Result:
        """``pulumi preview``: Check and Diff only; no Create, Update or Delete."""
        result = self._deploy(preview=True, operation="preview")
        self._expect(result, expect_no_changes, "proposed")
        return result

    def up(self, *, expect_no_changes: bool = False, skip_preview: bool = False) -> Result:
        """``pulumi up --yes``: a preview (own plugin process), then the update (another).
        With ``expect_no_changes`` a proposed change fails before anything is applied. The
        preview's result is in ``result.preview``."""
        planned: Result | None = None
        if not skip_preview:
            planned = self._deploy(preview=True, operation="up (preview)")
            self._expect(planned, expect_no_changes, "proposed")
        result = self._deploy(preview=False, operation="up")
        result.preview = planned
        self._expect(result, expect_no_changes, "made")
        return result

    def refresh(self, *, expect_no_changes: bool = False, skip_preview: bool = True) -> Result:
        """``pulumi refresh --yes --skip-preview``: Read every resource in state (the program
        is not run), drop the ones that are gone, report drift. With ``skip_preview=False``,
        as ``pulumi refresh --yes``: a preview first, on its own plugin, that reads the same
        resources and keeps nothing (``pkg/backend/apply.go`` PreviewThenPromptThenExecute
        runs the preview unless ``SkipPreview``); its result is in ``result.preview``."""
        planned: Result | None = None
        if not skip_preview:
            planned = self._refresh(preview=True)
            self._expect(planned, expect_no_changes, "proposed")
        result = self._refresh(preview=False)
        result.preview = planned
        self._expect(result, expect_no_changes, "made")
        return result

    def _refresh(self, *, preview: bool) -> Result:
        snapshot = self.state.load()
        result = self._result("refresh (preview)" if preview else "refresh")
        result.outputs = dict(snapshot.outputs)
        # The Stack is a component: refresh never changes it (``step.go`` ``RefreshStep.Apply``).
        result.stack_op = "same" if snapshot.stack_registered else None
        provider = self._lazy(snapshot, result, "refresh", preview=preview)
        try:
            for resource in list(snapshot.resources):
                # Components, and objects pending replacement, never change with a refresh
                # (``step.go`` ``RefreshStep.Apply``).
                if (
                    not resource.custom
                    or not is_dynamic(resource.type)
                    or resource.pending_replacement
                ):
                    result.steps.append(Step(resource.urn, "same", type=resource.type))
                    continue
                self._refresh_one(provider.get(), snapshot, resource, result)
        except EngineError as err:
            raise self._failed(err, result) from None
        finally:
            if not preview:
                self.state.save(snapshot)
            provider.stop()
        return result

    def destroy(self) -> Result:
        """``pulumi destroy --yes``: Delete every managed resource, dependents first, with the
        provider configured from the config recorded at the last update."""
        snapshot = self.state.load()
        result = self._result("destroy")
        provider = self._lazy(snapshot, result, "destroy", preview=False)
        protected = Protected()
        try:
            for resource in delete_order(list(snapshot.resources), snapshot.resources):
                if protected.blocks(resource, snapshot.resources):
                    continue
                if resource.external:
                    result.steps.append(Step(resource.urn, "discard", type=resource.type))
                elif resource.pending_replacement:
                    # Deleted already by a delete-before-replace that did not finish: only the
                    # record goes (``step.go`` ``NewRemovePendingReplaceStep``, emitted by
                    # ``step_generator.go``).
                    result.steps.append(
                        Step(resource.urn, "remove-pending-replace", type=resource.type)
                    )
                else:
                    managed = resource.custom and is_dynamic(resource.type)
                    if managed and not resource.retain_on_delete:
                        provider.get().delete(
                            resource.urn, resource.id, resource.outputs, resource.inputs
                        )
                    result.steps.append(Step(resource.urn, "delete", type=resource.type))
                snapshot.resources = [r for r in snapshot.resources if r is not resource]
            protected.raise_first()
        except EngineError as err:
            self.state.save(snapshot)
            raise self._failed(err, result) from None
        finally:
            provider.stop()
        if snapshot.config is not None:
            result.provider_op = "delete"
        result.stack_op = "delete" if snapshot.stack_registered else None
        self.state.save(Snapshot())
        return result

    # --- the pieces --------------------------------------------------------------------------

    def _deploy(self, *, preview: bool, operation: str) -> Result:
        snapshot = self.state.load()
        result = self._result(operation)
        phase = "preview" if preview else "update"
        # A program that registers no dynamic resource leaves the default provider, needed
        # only for deletes, to come from its recorded inputs.
        provider = self._lazy(
            snapshot,
            result,
            phase,
            preview=preview,
            recorded=lambda: not deployment.dynamic_registered,
        )
        deployment = Deployment(
            snapshot=snapshot,
            preview=preview,
            result=result,
            provider_factory=provider.get,
            save=None if preview else self.state.save,
            new_config=(self.config, self.secret_keys),
        )
        try:
            try:
                outputs = run_program(
                    self.program,
                    root=self.root,
                    project=self.project,
                    stack=self.stack,
                    preview=preview,
                    config=self.config,
                    secret_keys=self.secret_keys,
                    on_register=deployment.register,
                    on_read=deployment.read,
                    diagnostics=result.diagnostics,
                )
            except Exception as err:
                # The first failed step is what the CLI reports, not the program's fallout.
                raise deployment.failure or EngineError(
                    f"the program failed: {type(err).__name__}: {err}"
                ) from err
            if deployment.failure is not None:
                raise deployment.failure
            deployment.finish(outputs)
            result.stack_op = "same" if snapshot.stack_registered else "create"
            result.provider_op = self._provider_op(snapshot, deployment)
            if not preview and result.provider_op == "delete":
                deployment.set_config(None, ())
            result.outputs = outputs
        except EngineError as err:
            raise self._failed(err, result) from err.__cause__
        finally:
            deployment.flush()
            provider.stop()
        return result

    def _refresh_one(
        self, provider: ProviderClient, snapshot: Snapshot, resource: Resource, result: Result
    ) -> None:
        ident, outs, inputs = provider.read(
            resource.urn, resource.id, resource.outputs, resource.inputs
        )
        if not ident:
            snapshot.resources = [r for r in snapshot.resources if r is not resource]
            result.steps.append(Step(resource.urn, "refresh-delete", type=resource.type))
            return
        new_inputs = inputs if inputs is not None else resource.inputs
        outputs = step_rules(outs, new_inputs, resource.additional_secret_outputs)
        if resource.external:
            # ``step.go`` ``RefreshStep.ResultOp``/``Apply``: a looked-up resource is compared
            # on its outputs alone; the provider's Diff is not called.
            drifted = bool(changed_keys(resource.outputs, outputs))
        else:
            # Drift detection: the old inputs play the "news" against the refreshed state.
            # With the ignore_changes recorded at the last update (``step.go``
            # ``RefreshStep.Apply``: ``s.old.IgnoreChanges``).
            drift = provider.diff(
                resource.urn, ident, outputs, resource.inputs, new_inputs, resource.ignore_changes
            )
            drifted = drift.kind == "some" or (
                drift.kind == "unknown" and bool(changed_keys(new_inputs, resource.inputs))
            )
        op = "update" if drifted else "same"
        diffs = changed_keys(resource.outputs, outputs) if op == "update" else []
        result.steps.append(Step(resource.urn, op, diffs=diffs, type=resource.type))
        refreshed = dataclasses.replace(resource, id=ident, inputs=new_inputs, outputs=outputs)
        snapshot.resources = [refreshed if r is resource else r for r in snapshot.resources]

    def _lazy(
        self,
        snapshot: Snapshot,
        result: Result,
        phase: str,
        *,
        preview: bool,
        recorded: Callable[[], bool] = lambda: True,
    ) -> _LazyProvider:
        """The default provider of one operation, loaded on first use: configured with the
        stack config, or, when ``recorded()`` says so (refresh, destroy: no program), with
        the inputs recorded in state at the last update."""

        def start() -> ProviderClient:
            if recorded() and snapshot.config is not None:
                config, secret_keys = snapshot.config, snapshot.secret_config_keys
            else:
                config, secret_keys = self.config, self.secret_keys
            try:
                command, env = plugin_launch(self.cwd, self._plugin_env(config))
            except PluginLaunchError as err:
                # The script printed this on stderr and exited 1: the CLI fails the first
                # resource of the package, quoting the plugin's output.
                result.diagnostics.append(str(err))
                self.plugin_output.append(str(err))
                raise EngineError(f"the dynamic provider plugin did not start: {err}") from err
            plugin = PluginProcess(self.cwd, project=self.project, command=command, env=env)
            try:
                plugin.start()
            except RuntimeError as err:
                self._keep_output(plugin, result)
                raise EngineError(f"the dynamic provider plugin did not start: {err}") from err
            self.current_plugin = plugin
            if self.on_plugin is not None:
                self.on_plugin(plugin, phase)
            client = ProviderClient(
                plugin,
                urn=provider_urn(self.project, self.stack),
                preview=preview,
                calls=result.calls,
            )
            try:
                client.load(config, secret_keys, in_state=snapshot.config is not None)
            except BaseException:
                self._keep_output(plugin, result)
                raise
            return client

        return _LazyProvider(start, lambda plugin: self._keep_output(plugin, result))

    def _plugin_env(self, config: Mapping[str, str]) -> dict[str, str]:
        """The environment the CLI launches the plugin with (``provider_plugin.go``
        ``NewProvider``): its own, plus ``PULUMI_RUNTIME_<OPTION>`` for each runtime option of
        Pulumi.yaml, ``PULUMI_PROJECT``, and ``PULUMI_CONFIG`` with the provider's own
        namespace of the config (``pkg/host/host.go`` ``Provider``: ``pulumi-python:``, in
        practice empty). The CLI's own environment is the user's shell: ``env``."""
        own = {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith("pulumi-python:")}
        shell = {**os.environ, **self.env}
        if self.manifest is None or not self.manifest.options.get("virtualenv"):
            # The user's shell names the interpreter (as scripts/pulumi does).
            shell.setdefault("PULUMI_PYTHON_CMD", sys.executable)
        if not isinstance(self.program, Path):
            # A callable program's providers live in the tests package.
            shell["PYTHONPATH"] = checkout_on_path(shell)
        runtime = self.manifest.runtime_env() if self.manifest else {}
        return {
            **shell,
            **runtime,
            "PULUMI_PROJECT": self.project,
            "PULUMI_CONFIG": json.dumps(own),
        }

    def _keep_output(self, plugin: PluginProcess, result: Result) -> None:
        plugin.stop()
        result.diagnostics.extend(plugin.lines)
        self.plugin_output.extend(plugin.lines)

    def _provider_op(self, snapshot: Snapshot, deployment: Deployment) -> str | None:
        if deployment.dynamic_registered:
            if snapshot.config is None:
                return "create"
            # DiffConfig is unimplemented: the engine compares old and new inputs itself.
            return "update" if snapshot.config != self.config else "same"
        if snapshot.config is not None and not any(
            is_dynamic(r.type) for r in deployment.snapshot().resources
        ):
            return "delete"
        return None

    def _result(self, operation: str) -> Result:
        result = Result(operation)
        self.results.append(result)
        return result

    def _failed(self, err: EngineError, result: Result) -> EngineError:
        err.result = result
        result.errors.append(str(err))
        self.errors.append(str(err))
        return err

    def _expect(self, result: Result, expect_no_changes: bool, verb: str) -> None:
        if expect_no_changes and result.changes:
            changed = {n: op for n, op in result.ops().items() if op not in ("same", "read")}
            if result.stack_op not in (None, "same"):
                changed["stack"] = str(result.stack_op)
            error = EngineError(f"no changes were expected but changes were {verb}: {changed}")
            raise self._failed(error, result)


class _LazyProvider:
    """Starts the plugin on first use; at the end stops it and keeps its output."""

    def __init__(
        self, factory: Callable[[], ProviderClient], done: Callable[[PluginProcess], None]
    ) -> None:
        self._factory = factory
        self._done = done
        self._client: ProviderClient | None = None
        self._plugin: PluginProcess | None = None
        self._lock = threading.Lock()

    def get(self) -> ProviderClient:
        """The loaded provider (starting and loading the plugin on the first call)."""
        with self._lock:
            if self._client is None:
                self._client = self._factory()
            return self._client

    def stop(self) -> None:
        """Stop the plugin (once) and hand its output over."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            self._done(client.plugin)
