"""One deployment (a preview, or the real update): the engine's step generator and step
executor for the registrations of one program run.

Per registered dynamic resource: Check(olds = old inputs or {}, news); Diff for a resource
in state (olds = old outputs); then Same, Create, Update or Replace. A replace runs Check a
second time with olds = {} and the program's own inputs and, unless delete-before-replace,
creates the new object first and deletes the old one in the delete phase, after every
create and update, together with the resources the program no longer registers, dependents
first. A delete-before-replace first deletes the dependents its replacement would replace
(found by a Diff with their inputs from it unknown), then the old object, and keeps each in
state as pending replacement until it is created again. In a preview nothing is
created, updated or deleted: the planned outputs are the checked inputs, so output-only
properties reach the program as unknown. The state is saved after every step of a real
deployment, as the engine's snapshot manager does, so a failure leaves what the engine
would leave.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from tests.harness.paths import parse_path, reset
from tests.harness.plugin import DiffAnswer
from tests.harness.program import Registration
from tests.harness.provider import ProviderClient, is_dynamic
from tests.harness.results import EngineError, Result, Step
from tests.harness.secrets import step_rules
from tests.harness.state import Protected, Resource, Snapshot, delete_order, dependents_of
from tests.harness.wire import UNKNOWN, Props, strip_secrets

ProviderFactory = Callable[[], ProviderClient]
SAVE_INTERVAL_SECONDS = 0.5


@dataclass(frozen=True)
class _Plan:
    op: str
    replaces: list[str]
    diffs: list[str]
    delete_before_replace: bool = False


def changed_keys(old: Props, new: Props) -> list[str]:
    """Top-level keys whose values differ once secrets are unwrapped (the engine's own
    comparison for DIFF_UNKNOWN, and what the CLI shows as the diff)."""
    old_plain, new_plain = strip_secrets(old), strip_secrets(new)
    return sorted(k for k in {*old_plain, *new_plain} if old_plain.get(k) != new_plain.get(k))


class Deployment:
    """The steps for one run of the program against one snapshot."""

    def __init__(
        self,
        *,
        snapshot: Snapshot,
        preview: bool,
        result: Result,
        provider_factory: ProviderFactory,
        save: Callable[[Snapshot], None] | None,
        new_config: tuple[dict[str, str], set[str]] | None = None,
    ) -> None:
        self.preview = preview
        self.result = result
        self.old = snapshot
        self.old_live = snapshot.live()
        self.live: dict[str, Resource] = dict(self.old_live)
        self.condemned: list[Resource] = snapshot.pending_deletes()
        self._earlier_condemned = {id(r) for r in self.condemned}
        self.config = snapshot.config
        self.secret_config_keys = set(snapshot.secret_config_keys)
        self._provider_id = snapshot.provider_id
        self.stack_outputs: Props = dict(snapshot.outputs)
        self.failure: EngineError | None = None
        self.dynamic_registered = False
        self._new_config = new_config
        self._provider_factory = provider_factory
        self._provider: ProviderClient | None = None
        self._save = save
        self._seen: dict[str, None] = {}  # registration order
        self._dirty = False
        self._saved_at = 0.0
        # Check and Diff are issued one at a time (the step generator's loop); creates,
        # updates and deletes of independent resources run in parallel.
        self._generator = threading.Lock()
        self._state = threading.RLock()
        self._provider_lock = threading.Lock()

    # --- entry points for the program's registrations ----------------------------------------

    def register(self, reg: Registration) -> tuple[str, Props]:
        """A RegisterResource: run its steps, return (id, outputs) for the program."""
        return self._guarded(reg, lambda: self._register(reg))

    def read(self, reg: Registration) -> tuple[str, Props]:
        """A ReadResource (``.get`` / ``ResourceOptions(id=...)``)."""
        return self._guarded(reg, lambda: self._read(reg))

    def provider(self) -> ProviderClient:
        """The default provider, loaded on first use (one plugin per deployment)."""
        with self._provider_lock:
            if self._provider is None:
                self._provider = self._provider_factory()
                if self.dynamic_registered and self._new_config is not None:
                    # Loaded for a registration: the stack config becomes its recorded inputs.
                    self.set_config(*self._new_config)
            return self._provider

    # --- registrations -----------------------------------------------------------------------

    def _guarded(
        self, reg: Registration, action: Callable[[], tuple[str, Props]]
    ) -> tuple[str, Props]:
        with self._state:
            if self.failure is not None:
                # The engine schedules no new step once one has failed.
                raise EngineError(f"{reg.urn}: not processed: an earlier step failed", urn=reg.urn)
            if reg.urn in self._seen:
                raise EngineError(f"Duplicate resource URN '{reg.urn}'", urn=reg.urn)
            self._seen[reg.urn] = None
        try:
            return action()
        except EngineError as err:
            self._fail(err)
            raise
        except Exception as err:
            wrapped = EngineError(f"{reg.urn}: {type(err).__name__}: {err}", urn=reg.urn)
            self._fail(wrapped)
            raise wrapped from err

    def _fail(self, err: EngineError) -> None:
        with self._state:
            if self.failure is None:
                self.failure = err

    def _register(self, reg: Registration) -> tuple[str, Props]:
        old = self._old_state(reg.urn)
        if old is not None and old.external:
            old = None
        if not reg.custom:
            return self._component(reg, old)
        if not is_dynamic(reg.type):
            return self._mocked(reg, old)
        self.dynamic_registered = True
        provider = self.provider()
        if reg.import_id and old is None:
            return self._import(provider, reg)
        news = _ignore_changes(reg.inputs, old, reg.ignore_changes)
        with self._generator:
            checked = self._check(provider, reg.urn, old.inputs if old else {}, news)
            if old is None:
                plan = _Plan("create", [], [])
            else:
                diff = provider.diff(
                    reg.urn, old.id, old.outputs, checked, old.inputs, reg.ignore_changes
                )
                plan = _decide(reg, old, checked, diff)
            dependents: list[Resource] = []
            if plan.op == "replace":
                assert old is not None
                # Defaults may differ for a new object: check again with no old inputs and
                # the program's inputs as given (``step_generator.go``
                # ``continueStepsFromDiff``: ``News: goal.Properties``, ignore_changes not
                # applied).
                checked = self._check(provider, reg.urn, {}, reg.inputs)
                # Protection blocks a replace only when the old and the new resource are
                # both protected (unprotect-and-replace works in one run), in a preview too
                # (``continueStepsFromDiff``: ``new.Protect && old.Protect``).
                if old.protect and reg.protect:
                    raise EngineError(
                        f"{reg.urn}: unable to replace resource: it is protected", urn=reg.urn
                    )
                if plan.delete_before_replace:
                    dependents = self._dependent_replacements(provider, old)
        self._step(
            Step(reg.urn, plan.op, plan.replaces, plan.diffs, reg.type, plan.delete_before_replace)
        )

        if plan.op == "same":
            assert old is not None
            # A Same step stores the new inputs but keeps the old outputs (and `__provider`).
            outputs = step_rules(old.outputs, checked, reg.additional_secret_outputs)
            self._record(_resource(reg, old.id, checked, outputs))
            return old.id, outputs
        if self.preview:
            # The delete-before-replace deletes are planned, not made; the dependents are
            # marked pending replacement all the same (``DeleteStep.Apply`` sets it after its
            # dry-run branch), so their own registration plans a replace.
            with self._state:
                for doomed in dependents:
                    self.live[doomed.urn] = replace(doomed, pending_replacement=True)
            # No Create/Update in a preview (supportsPreview=False): outputs are the inputs,
            # with the step executor's secret rules applied as to any step with a new state
            # (``step_executor.go`` ``continueExecuteStep``).
            ident = old.id if plan.op == "update" and old is not None else ""
            return ident, step_rules(checked, checked, reg.additional_secret_outputs)

        if plan.op == "update":
            assert old is not None
            outs = provider.update(reg.urn, old.id, old.outputs, checked, old.inputs)
            ident = old.id
        elif plan.op == "replace":
            assert old is not None
            if plan.delete_before_replace:
                # Dependents first (they come in dependency order), then the old object; an
                # object a failed earlier run already deleted is not deleted again
                # (``continueStepsFromDiff``: ``if !old.PendingReplacement``).
                for doomed in [*reversed(dependents), old]:
                    if not doomed.pending_replacement:
                        self._delete_for_replacement(provider, doomed)
            ident, outs = self._create(provider, reg.urn, checked)
            if not plan.delete_before_replace and not old.pending_replacement:
                with self._state:
                    self.condemned.append(replace(old, delete=True))
        else:
            ident, outs = self._create(provider, reg.urn, checked)
        outputs = step_rules(outs, checked, reg.additional_secret_outputs)
        self._record(_resource(reg, ident, checked, outputs))
        return ident, outputs

    def _dependent_replacements(self, provider: ProviderClient, root: Resource) -> list[Resource]:
        """The resources a delete-before-replace of ``root`` must delete first, in dependency
        order, each with a delete-replaced step (``step_generator.go``
        ``calculateDependentReplacements``): every dependent not registered yet in this run
        whose provider's Diff, with the inputs that came from a resource being replaced
        made unknown, asks for a replacement. Only dynamic resources get a Diff; the mocked
        ones never ask for a replacement, as everywhere in this harness."""
        with self._state:
            registered = set(self._seen)
            ordered = [self.live.get(r.urn, r) for r in self.old.resources if not r.delete]
        replacing = {root.urn}
        found: list[Resource] = []
        for dependent in dependents_of(root, ordered, registered):
            if not dependent.custom or dependent.external or not is_dynamic(dependent.type):
                continue
            news = dict(dependent.inputs)
            for key in news:
                if replacing & set(dependent.property_dependencies.get(key, [])):
                    news[key] = UNKNOWN
            if news == dependent.inputs:
                continue  # nothing it takes from the replaced resources can change
            diff = provider.diff(
                dependent.urn, dependent.id, dependent.outputs, news, dependent.inputs
            )
            if not diff.replaces:
                continue
            if dependent.protect:
                raise EngineError(
                    f"{dependent.urn}: unable to replace resource as part of replacing "
                    f"{root.urn}: it is protected",
                    urn=root.urn,
                )
            found.append(dependent)
            replacing.add(dependent.urn)
        for dependent in reversed(found):
            self._step(Step(dependent.urn, "delete-replaced", type=dependent.type))
        return found

    def _delete_for_replacement(self, provider: ProviderClient, resource: Resource) -> None:
        """Delete the object, then keep it in state as pending replacement (``step.go``
        ``DeleteStep.Apply``: set only once the delete has succeeded)."""
        self._delete_object(provider, resource)
        with self._state:
            self.live[resource.urn] = replace(resource, pending_replacement=True)
            self._persist()

    def _old_state(self, urn: str) -> Resource | None:
        """The resource the old state holds at ``urn``, as this run has left it so far: a
        delete-before-replace earlier in the run may have marked it pending replacement."""
        with self._state:
            return self.live.get(urn) if urn in self.old_live else None

    def _check(self, provider: ProviderClient, urn: str, olds: Props, news: Props) -> Props:
        checked, failures = provider.check(urn, olds, news)
        if failures:
            details = "; ".join(f"{prop}: {reason}" for prop, reason in failures)
            raise EngineError(f"{urn}: Check failed: {details}", urn=urn, method="Check")
        return checked

    def _create(self, provider: ProviderClient, urn: str, checked: Props) -> tuple[str, Props]:
        ident, outs = provider.create(urn, checked)
        if not ident:
            raise EngineError(f"{urn}: plugin returned empty resource.ID", urn=urn, method="Create")
        return ident, outs

    def _import(self, provider: ProviderClient, reg: Registration) -> tuple[str, Props]:
        # The engine's import Read carries no properties and no inputs.
        self._step(Step(reg.urn, "import", type=reg.type))
        ident, outs, inputs = provider.read(reg.urn, reg.import_id, {}, {})
        if not ident:
            raise EngineError(f"{reg.urn}: resource '{reg.import_id}' does not exist", urn=reg.urn)
        if inputs is None:
            raise EngineError(
                f"{reg.urn}: provider does not support importing resources", urn=reg.urn
            )
        checked = self._check(provider, reg.urn, inputs, reg.inputs)
        diff = provider.diff(reg.urn, ident, outs, checked, inputs)
        if diff.kind == "some" or (diff.kind == "unknown" and changed_keys(inputs, checked)):
            raise EngineError(f"{reg.urn}: inputs to import do not match the existing resource")
        outputs = step_rules(outs, checked, reg.additional_secret_outputs)
        self._record(_resource(reg, ident, checked, outputs))
        return ident, outputs

    def _read(self, reg: Registration) -> tuple[str, Props]:
        old = self._old_state(reg.urn)
        if old is not None and not old.external and old.id != reg.id:
            # A managed object read under its URN with another ID is let go and deleted in
            # the delete phase (``step_generator.go`` ``GenerateReadSteps``: a read-replacement
            # step, with a replace step, so the run counts as a change; ``step.go``
            # ``ReadStep.Apply``: ``s.old.Delete = true``). With the same ID it is kept,
            # now as a read resource.
            self._step(Step(reg.urn, "read-replacement", type=reg.type))
            with self._state:
                self.condemned.append(replace(old, delete=True))
        else:
            self._step(Step(reg.urn, "read", type=reg.type))
        if not reg.id or reg.id == UNKNOWN:
            # The engine skips Read for an unknown ID (preview); all outputs are unknown.
            return "", {}
        if is_dynamic(reg.type):
            self.dynamic_registered = True
            ident, outs, _ = self.provider().read(reg.urn, reg.id, reg.inputs, reg.inputs)
        else:
            ident, outs = reg.id, dict(reg.inputs)
        # An empty ID from Read does not fail a `.get`: the requested ID is recorded.
        ident = ident or reg.id
        outputs = step_rules(outs, reg.inputs, reg.additional_secret_outputs)
        self._record(_resource(reg, ident, reg.inputs, outputs, external=True))
        return ident, outputs

    def _mocked(self, reg: Registration, old: Resource | None) -> tuple[str, Props]:
        """A non-dynamic custom resource (pulumi-kubernetes…): outputs are its inputs."""
        diffs = changed_keys(old.inputs, reg.inputs) if old is not None else []
        op = "create" if old is None else ("update" if diffs else "same")
        self._step(Step(reg.urn, op, diffs=diffs, type=reg.type))
        # A created resource's ID is unknown until it exists.
        fresh = "" if self.preview else f"{reg.name}-id"
        ident = old.id if old is not None else fresh
        outs = old.outputs if op == "same" and old is not None else dict(reg.inputs)
        outputs = step_rules(outs, reg.inputs, reg.additional_secret_outputs)
        self._record(_resource(reg, ident, reg.inputs, outputs))
        return ident, outputs

    def _component(self, reg: Registration, old: Resource | None) -> tuple[str, Props]:
        self._step(Step(reg.urn, "same" if old is not None else "create", type=reg.type))
        self._record(_resource(reg, "", reg.inputs, {}))
        return "", {}

    # --- the delete phase --------------------------------------------------------------------

    def finish(self, stack_outputs: Props) -> None:
        """After the program: delete what it no longer registers and the replaced objects,
        dependents first; then record the stack outputs."""
        with self._state:
            gone = [self.live.get(u, r) for u, r in self.old_live.items() if u not in self._seen]
        doomed = delete_order([*gone, *self.condemned], self.old.resources)
        protected = Protected()
        for resource in doomed:
            earlier = id(resource) in self._earlier_condemned
            if resource.delete and not earlier:
                op = None  # part of this run's replace step
            elif resource.delete:
                op = "delete-replaced"
            elif resource.pending_replacement:
                # Its object is gone already: only the record goes (``step_generator.go``
                # ``GenerateDeletes`` emits ``step.go`` ``NewRemovePendingReplaceStep``).
                op = "remove-pending-replace"
            else:
                op = "discard" if resource.external else "delete"
            if protected.blocks(resource, self.old.resources):
                continue
            if op is not None:
                self._step(Step(resource.urn, op, type=resource.type))
            if self.preview:
                continue
            managed = resource.custom and is_dynamic(resource.type) and not resource.external
            if managed and not resource.pending_replacement:
                self._delete_object(self.provider(), resource)
            with self._state:
                if resource.delete:
                    self.condemned = [r for r in self.condemned if r is not resource]
                else:
                    self.live.pop(resource.urn, None)
                self._persist()
        with self._state:
            self.stack_outputs = stack_outputs
            self.flush()
        protected.raise_first()

    def _delete_object(self, provider: ProviderClient, resource: Resource) -> None:
        if not resource.retain_on_delete:
            provider.delete(resource.urn, resource.id, resource.outputs, resource.inputs)

    # --- the snapshot ------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """The state as it stands: resources registered so far (in registration order),
        untouched old ones, then objects pending deletion."""
        with self._state:
            registered = [self.live[u] for u in self._seen if u in self.live]
            rest = [r for u, r in self.live.items() if u not in self._seen]
            return Snapshot(
                resources=[*registered, *rest, *self.condemned],
                outputs=dict(self.stack_outputs),
                config=self.config,
                secret_config_keys=set(self.secret_config_keys),
                # The program registers its Stack before anything else.
                stack_registered=True,
                provider_id=self._provider_id,
            )

    def set_config(self, config: dict[str, str] | None, secret_keys: Iterable[str]) -> None:
        """Record the default provider's inputs (the stack config)."""
        with self._state:
            self.config = None if config is None else dict(config)
            self.secret_config_keys = set(secret_keys)
            self._persist()

    def _record(self, resource: Resource) -> None:
        with self._state:
            self.live[resource.urn] = resource
            self._persist()

    def _persist(self) -> None:
        # The engine writes its snapshot after every step; writing the whole file that often
        # is quadratic for big stacks, so writes are spaced out and flushed at the end. Only a
        # crash of the test process itself could tell the difference.
        with self._state:
            self._dirty = True
            if time.monotonic() - self._saved_at >= SAVE_INTERVAL_SECONDS:
                self.flush()

    def flush(self) -> None:
        """Write the state file now if anything changed (not in a preview)."""
        with self._state:
            if self._save is None or self.preview or not self._dirty:
                return
            self._save(self.snapshot())
            self._dirty = False
            self._saved_at = time.monotonic()

    def _step(self, step: Step) -> None:
        with self._state:
            self.result.steps.append(step)


def _decide(reg: Registration, old: Resource, checked: Props, diff: DiffAnswer) -> _Plan:
    """The engine's reading of a Diff answer (step_generator.go ``diffResource``)."""
    keys = changed_keys(old.inputs, checked)
    replaces = list(diff.replaces)
    if diff.kind == "none":
        changed = False
    elif diff.kind == "some":
        changed = True
    else:
        # DIFF_UNKNOWN: the engine compares old and new inputs itself and keeps `replaces`;
        # only then does `replace_on_changes` see which keys changed.
        changed = bool(keys)
        wanted = set(reg.replace_on_changes)
        replaces += [k for k in keys if ("*" in wanted or k in wanted) and k not in replaces]
    if not changed and not old.pending_replacement:
        return _Plan("same", [], [])
    # An object already deleted for a replacement is replaced whatever the diff says
    # (``continueStepsFromDiff``: ``diff.Replace() || triggerReplace || old.PendingReplacement``).
    if replaces or old.pending_replacement:
        dbr = diff.delete_before_replace
        if reg.delete_before_replace is not None:
            dbr = reg.delete_before_replace
        return _Plan("replace", replaces, keys, dbr)
    return _Plan("update", [], keys)


def _ignore_changes(news: Props, old: Resource | None, paths: list[str]) -> Props:
    """``ignore_changes``: the value at each ignored path (``a.b[0]``, ``*``) is reset to
    its old input, or removed where there was none; a malformed path is skipped and one that
    cannot be followed leaves the inputs as they are there (``step_generator.go``
    ``processIgnoreChanges``)."""
    if old is None or not paths:
        return news
    adjusted = copy.deepcopy(news)
    for text in paths:
        path = parse_path(text)
        if path is not None:
            reset(path, old.inputs, adjusted)
    return adjusted


def _resource(
    reg: Registration, ident: str, inputs: Props, outputs: Props, *, external: bool = False
) -> Resource:
    return Resource(
        urn=reg.urn,
        type=reg.type,
        id=ident,
        inputs=inputs,
        outputs=outputs,
        dependencies=list(reg.dependencies),
        external=external,
        custom=reg.custom,
        parent=reg.parent,
        property_dependencies={k: list(v) for k, v in reg.property_dependencies.items()},
        additional_secret_outputs=list(reg.additional_secret_outputs),
        protect=reg.protect,
        retain_on_delete=reg.retain_on_delete,
        ignore_changes=list(reg.ignore_changes),
    )
