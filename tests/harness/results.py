"""What an operation reports: the plan the CLI prints, the RPCs made, diagnostics, errors."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tests.harness.secrets import render

# Step kinds that are not changes (``pkg/engine/update.go`` ``HasChanges``: same and the
# read kinds, ``OpRead``, ``OpReadDiscard`` (a looked-up resource dropped: "discard" here)
# and ``OpReadReplacement``). Default-provider steps are internal (``isInternalStep``): never
# counted, so a config change alone is no change for ``--expect-no-changes``.
NO_CHANGE_OPS = frozenset({"same", "read", "discard"})


@dataclass(frozen=True)
class RpcCall:
    """One RPC the engine made to the plugin, with the plaintext the provider received
    (``args``) and the decoded answer where useful (``answer``)."""

    method: str
    urn: str = ""
    id: str = ""
    args: dict[str, Any] = field(default_factory=dict)
    answer: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The resource's logical name (from the URN)."""
        return self.urn.rsplit("::", 1)[-1]


@dataclass
class Step:
    """One line of the plan.

    ``op`` is one of create, update, replace, delete, same, read, refresh-delete (refresh
    found the object gone), discard (an external resource dropped from state) or
    delete-replaced (a replaced object left pending deletion by an earlier run).
    """

    urn: str
    op: str
    replaces: list[str] = field(default_factory=list)
    diffs: list[str] = field(default_factory=list)
    type: str = ""
    delete_before_replace: bool = False

    @property
    def name(self) -> str:
        """The resource's logical name."""
        return self.urn.rsplit("::", 1)[-1]


@dataclass
class Result:
    """What an operation did (or, for a preview, would do).

    ``steps`` are the resource rows of the plan, ``outputs`` the stack outputs (secrets
    wrapped, unknowns as the sentinel in a preview), ``stack_op`` the
    ``pulumi:pulumi:Stack`` resource's step, ``provider_op`` the default provider's step
    (its inputs are the stack config; internal, so never counted), ``calls`` every RPC to
    the plugin(s) in order,
    ``diagnostics`` the lines the CLI would print besides the plan (plugin stdout/stderr,
    program log messages), ``errors`` the error the operation failed with (as printed); for
    ``up``, ``preview`` is the result of its preview phase.
    """

    operation: str
    steps: list[Step] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    diagnostics: list[str] = field(default_factory=list)
    calls: list[RpcCall] = field(default_factory=list)
    provider_op: str | None = None
    stack_op: str | None = None
    preview: Result | None = None
    errors: list[str] = field(default_factory=list)

    def ops(self) -> dict[str, str]:
        """Logical name → operation (delete-replaced rows left out)."""
        return {step.name: step.op for step in self.steps if step.op != "delete-replaced"}

    def step(self, name: str) -> Step:
        """The step of one resource, by logical name."""
        matches = [
            step for step in self.steps if step.name == name and step.op != "delete-replaced"
        ]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} steps named {name!r}: {self.ops()}")
        return matches[0]

    def calls_to(self, *methods: str) -> list[RpcCall]:
        """The RPCs of the given methods, in order."""
        return [call for call in self.calls if call.method in methods]

    def counts(self) -> Counter[str]:
        """How many steps of each kind: the CLI's summary (``changeSummary`` of
        ``pulumi preview --json``). The Stack counts, the default provider does not
        (``update.go`` ``OnResourceStepPost`` with ``isInternalStep``)."""
        counts = Counter(step.op for step in self.steps if step.op != "delete-replaced")
        if self.stack_op is not None:
            counts[self.stack_op] += 1
        return counts

    @property
    def changes(self) -> bool:
        """Whether anything but same and read steps happened (``--expect-no-changes``)."""
        return any(op not in NO_CHANGE_OPS for op in self.counts())

    def render(self) -> str:
        """The plan and outputs as the CLI prints them (secrets as ``[secret]``)."""
        lines = [f"{self.operation}:"]
        if self.stack_op is not None:
            lines.append(f"  {self.stack_op:<16} pulumi:pulumi:Stack")
        if self.provider_op is not None:
            lines.append(f"  {self.provider_op:<16} pulumi:providers:pulumi-python default")
        for step in self.steps:
            detail = f" [diff: {', '.join(step.diffs)}]" if step.diffs else ""
            lines.append(f"  {step.op:<16} {step.urn}{detail}")
        if self.outputs:
            lines.append("Outputs:")
            lines.append(json.dumps(render(self.outputs), indent=2, sort_keys=True, default=str))
        lines.extend(self.diagnostics)
        lines.extend(f"error: {error}" for error in self.errors)
        return "\n".join(lines)


class EngineError(Exception):
    """An operation failed as the CLI would fail it. The message carries the plugin's error
    text (its traceback ends with the provider's exception); ``result`` holds what was done
    before the failure."""

    def __init__(
        self,
        message: str,
        *,
        urn: str = "",
        method: str = "",
        details: str = "",
        result: Result | None = None,
    ) -> None:
        super().__init__(message)
        self.urn = urn
        self.method = method
        self.details = details
        self.result = result
