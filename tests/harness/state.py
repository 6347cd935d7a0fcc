"""The stack's state as ``pulumi stack export`` shows it: a deployment whose resources are
the ``pulumi:pulumi:Stack`` (its outputs are the stack outputs), the default
``pulumi:providers:pulumi-python`` provider (its inputs and outputs are the *whole* stack
config, namespaced, secrets as ciphertext: ``pkg/resource/deploy/target.go``
``GetPackageConfig`` passes every key to a dynamic provider), then every other resource,
referring to that provider. Every secret in the file is a ciphertext envelope."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.harness.results import EngineError
from tests.harness.secrets import decode, encode, wrap
from tests.harness.wire import Props, is_secret

STATE_VERSION = 3
STACK_TYPE = "pulumi:pulumi:Stack"
DEFAULT_PROVIDER_TYPE = "pulumi:providers:pulumi-python"


@dataclass
class Resource:
    """One resource in state. ``delete`` marks a replaced object still to be deleted;
    ``pending_replacement`` one whose object a delete-before-replace has already deleted, kept
    until its replacement is created (``step.go`` ``DeleteStep.Apply``: "we want the resource
    to remain in the persistence layer throughout the replace operation")."""

    urn: str
    type: str
    id: str
    inputs: Props
    outputs: Props
    dependencies: list[str] = field(default_factory=list)
    external: bool = False
    custom: bool = True
    parent: str = ""
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    additional_secret_outputs: list[str] = field(default_factory=list)
    protect: bool = False
    retain_on_delete: bool = False
    delete: bool = False
    pending_replacement: bool = False
    ignore_changes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The logical name."""
        return self.urn.rsplit("::", 1)[-1]

    def resource_dependencies(self) -> set[str]:
        """The URNs in ``dependencies`` and ``property_dependencies`` (not the parent)."""
        urns = set(self.dependencies)
        for group in self.property_dependencies.values():
            urns.update(group)
        return urns

    def depends_on(self) -> set[str]:
        """Every URN this resource depends on: dependencies, property dependencies, parent."""
        urns = self.resource_dependencies()
        if self.parent:
            urns.add(self.parent)
        urns.discard(self.urn)
        return urns

    def to_json(self) -> dict[str, Any]:
        """For the state file (secrets encrypted)."""
        return {
            "urn": self.urn,
            "type": self.type,
            "id": self.id,
            "custom": self.custom,
            "external": self.external,
            "delete": self.delete,
            "pendingReplacement": self.pending_replacement,
            "parent": self.parent,
            "protect": self.protect,
            "retainOnDelete": self.retain_on_delete,
            "inputs": encode(self.inputs),
            "outputs": encode(self.outputs),
            "dependencies": self.dependencies,
            "propertyDependencies": self.property_dependencies,
            "additionalSecretOutputs": self.additional_secret_outputs,
            "ignoreChanges": self.ignore_changes,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Resource:
        """From the state file."""
        return cls(
            urn=data["urn"],
            type=data["type"],
            id=data.get("id", ""),
            inputs=decode(data.get("inputs", {})),
            outputs=decode(data.get("outputs", {})),
            dependencies=list(data.get("dependencies", [])),
            external=bool(data.get("external")),
            custom=bool(data.get("custom", True)),
            parent=data.get("parent", ""),
            property_dependencies={
                k: list(v) for k, v in data.get("propertyDependencies", {}).items()
            },
            additional_secret_outputs=list(data.get("additionalSecretOutputs", [])),
            protect=bool(data.get("protect")),
            retain_on_delete=bool(data.get("retainOnDelete")),
            delete=bool(data.get("delete")),
            pending_replacement=bool(data.get("pendingReplacement")),
            ignore_changes=list(data.get("ignoreChanges") or []),
        )


@dataclass
class Snapshot:
    """Everything the state file holds."""

    resources: list[Resource] = field(default_factory=list)
    outputs: Props = field(default_factory=dict)
    config: dict[str, str] | None = None
    secret_config_keys: set[str] = field(default_factory=set)
    stack_registered: bool = False
    provider_id: str = ""

    def live(self) -> dict[str, Resource]:
        """Resources not pending deletion, by URN."""
        return {r.urn: r for r in self.resources if not r.delete}

    def pending_deletes(self) -> list[Resource]:
        """Replaced objects an earlier run did not get to delete."""
        return [r for r in self.resources if r.delete]


class StateFile:
    """The JSON state file; writes are atomic (a reader never sees half a file)."""

    def __init__(self, path: Path, *, project: str = "project", stack: str = "stack") -> None:
        self.path = Path(path)
        self.stack_urn = f"urn:pulumi:{stack}::{project}::{STACK_TYPE}::{project}-{stack}"
        self.provider_urn = f"urn:pulumi:{stack}::{project}::{DEFAULT_PROVIDER_TYPE}::default"

    def text(self) -> str:
        """The file's text ("" when there is none yet)."""
        return self.path.read_text() if self.path.exists() else ""

    def load(self) -> Snapshot:
        """The snapshot in the file (empty when there is none)."""
        if not self.path.exists():
            return Snapshot()
        data = json.loads(self.path.read_text())
        snapshot = Snapshot()
        for entry in data.get("deployment", {}).get("resources", []):
            if entry["type"] == STACK_TYPE:
                snapshot.stack_registered = True
                snapshot.outputs = decode(entry.get("outputs", {}))
            elif entry["type"] == DEFAULT_PROVIDER_TYPE:
                inputs = decode(entry["inputs"])
                snapshot.provider_id = entry["id"]
                snapshot.secret_config_keys = {k for k, v in inputs.items() if is_secret(v)}
                snapshot.config = {
                    k: (v["value"] if is_secret(v) else v) for k, v in inputs.items()
                }
            else:
                snapshot.resources.append(Resource.from_json(entry))
        return snapshot

    def save(self, snapshot: Snapshot) -> None:
        """Write the snapshot."""
        resources: list[dict[str, Any]] = []
        if snapshot.stack_registered:
            resources.append(
                {
                    "urn": self.stack_urn,
                    "type": STACK_TYPE,
                    "custom": False,
                    "outputs": encode(snapshot.outputs),
                }
            )
        reference = ""
        if snapshot.config is not None:
            snapshot.provider_id = snapshot.provider_id or str(uuid.uuid4())
            config = encode(
                {
                    k: wrap(v) if k in snapshot.secret_config_keys else v
                    for k, v in snapshot.config.items()
                }
            )
            resources.append(
                {
                    "urn": self.provider_urn,
                    "type": DEFAULT_PROVIDER_TYPE,
                    "custom": True,
                    "id": snapshot.provider_id,
                    "inputs": config,
                    "outputs": config,
                }
            )
            reference = f"{self.provider_urn}::{snapshot.provider_id}"
        for resource in snapshot.resources:
            entry = resource.to_json()
            if reference and resource.custom and resource.type.startswith("pulumi-python:"):
                entry["provider"] = reference
            resources.append(entry)
        document = {"version": STATE_VERSION, "deployment": {"resources": resources}}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        scratch = self.path.with_name(self.path.name + ".tmp")
        scratch.write_text(json.dumps(document, indent=2, sort_keys=True))
        os.replace(scratch, self.path)


def delete_order(doomed: Iterable[Resource], graph: Iterable[Resource]) -> list[Resource]:
    """The resources in an order that deletes every dependent before what it depends on
    (directly or through other resources of ``graph``, usually the old state)."""
    pending = list(reversed(list(doomed)))
    direct: dict[str, set[str]] = {}
    for resource in [*graph, *pending]:
        direct.setdefault(resource.urn, set()).update(resource.depends_on())

    reach = {r.urn: _reachable(direct.get(r.urn, set()), direct) - {r.urn} for r in pending}
    ordered: list[Resource] = []
    while pending:
        # The first one that nothing still pending depends on.
        index = next(
            (
                i
                for i, candidate in enumerate(pending)
                if not any(
                    candidate.urn in reach[other.urn] for other in pending if other is not candidate
                )
            ),
            0,
        )
        ordered.append(pending.pop(index))
    return ordered


def dependents_of(root: Resource, resources: list[Resource], ignore: set[str]) -> list[Resource]:
    """Every resource after ``root`` in state order that depends on it directly or through
    another dependent, by ``dependencies`` or ``property_dependencies`` (not by parent),
    skipping the URNs in ``ignore`` (``pkg/resource/graph/dependency_graph.go``
    ``DependingOn`` with ``includeChildren`` false: a linear scan, states being stored in
    dependency order)."""
    start = next((i for i, r in enumerate(resources) if r.urn == root.urn), len(resources))
    reached = {root.urn}
    found: list[Resource] = []
    for candidate in resources[start + 1 :]:
        if candidate.urn in ignore:
            continue
        if candidate.resource_dependencies() & reached:
            found.append(candidate)
            reached.add(candidate.urn)
    return found


class Protected:
    """Deletes refused for protection, as the step executor handles them: a protected
    resource is not deleted, in a preview too, unless the delete is part of a replacement
    (``step.go`` ``DeleteStep.Apply``: ``!s.replacing && s.old.Protect``, checked before the
    dry-run branch); the run goes on past it (``step_executor.go``: "We special case
    deleteProtectedError to always continue past them") but skips the deletes that would
    follow it, those of the resources it depends on, and fails at the end."""

    def __init__(self) -> None:
        self.errors: list[EngineError] = []
        self._kept: set[str] = set()

    def blocks(self, resource: Resource, graph: list[Resource]) -> bool:
        """Whether ``resource`` must not be deleted; records the error for a protected one."""
        if resource.urn in self._kept:
            return True
        if resource.delete or resource.external or not resource.protect:
            return False
        self.errors.append(
            EngineError(
                f"{resource.urn}: unable to delete resource: it is protected", urn=resource.urn
            )
        )
        self._kept.update(depended_on(resource, graph))
        return True

    def raise_first(self) -> None:
        """Fail the run with the first refusal, if any."""
        if self.errors:
            raise self.errors[0]


def depended_on(resource: Resource, graph: Iterable[Resource]) -> set[str]:
    """Every URN ``resource`` depends on, directly or through others in ``graph``."""
    return _reachable(resource.depends_on(), {r.urn: r.depends_on() for r in graph})


def _reachable(start: Iterable[str], direct: Mapping[str, set[str]]) -> set[str]:
    """Every URN reachable from ``start`` through ``direct`` (URN → the URNs it depends on),
    ``start`` included."""
    seen: set[str] = set()
    frontier = list(start)
    while frontier:
        urn = frontier.pop()
        if urn not in seen:
            seen.add(urn)
            frontier.extend(direct.get(urn, set()))
    return seen
