"""Pure decisions of the providers: input shapes, unknown values, replace-or-update.

Nothing here performs I/O, so every rule is tested without sockets or a Pulumi engine.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

import pulumi
from pulumi.output import Unknown
from pydantic import BaseModel
from pydantic.alias_generators import to_snake

from mms_pulumi.schema import ApiGeneration, FieldProblem


class OnChange(Enum):
    """What a changed input does to the live object."""

    REPLACE = "replace"
    UPDATE = "update"
    # Not part of the object (how to reach where it lives): recorded, never a change.
    IGNORE = "ignore"


_NO_DEFAULT = object()


@dataclass(frozen=True)
class FieldSpec:
    """One input of a resource, declared once: how a change to it is applied, its default,
    the API generation it belongs to, whether it is a secret, and its rule in words.

    The provider's diff, its other-generation check and its secret outputs, the resource's
    secret options and the docs' input tables (``scripts/docs_tables.py``) all read these;
    the shape and limits themselves are the wire model's (``mms_pulumi.schema``).
    """

    name: str
    on_change: OnChange = OnChange.REPLACE
    default: Any = _NO_DEFAULT
    # Given on an account of the other generation, it is an error (``None``: both).
    only_in: ApiGeneration | None = None
    # Returned to the engine as a secret whatever the program did.
    secret: bool = False
    # The rule a user must follow, for the docs (markdown, one line).
    doc: str = ""

    @property
    def has_default(self) -> bool:
        """Whether ``check`` fills this field in when the program leaves it out."""
        return self.default is not _NO_DEFAULT


def generation_only(specs: Iterable[FieldSpec]) -> dict[str, ApiGeneration]:
    """Input name → the one generation it belongs to, for the inputs that have one."""
    return {spec.name: spec.only_in for spec in specs if spec.only_in is not None}


def for_generation(
    specs: Iterable[FieldSpec], inputs: Mapping[str, Any], generation: ApiGeneration
) -> dict[str, Any]:
    """The inputs without those that belong to the other generation (by their specs)."""
    other = {spec.name for spec in specs if spec.only_in not in (None, generation)}
    return {name: value for name, value in inputs.items() if name not in other}


def secret_inputs(specs: Iterable[FieldSpec]) -> tuple[str, ...]:
    """The names of the secret inputs, in declaration order."""
    return tuple(spec.name for spec in specs if spec.secret)


@dataclass(frozen=True)
class DiffPlan:
    """What ``diff`` reports: whether anything changed, what forces a replace, in which order."""

    changed: tuple[str, ...]
    replaces: tuple[str, ...]
    delete_before_replace: bool = False

    @property
    def changes(self) -> bool:
        """Whether the engine should plan an update or a replace."""
        return bool(self.changed)


def is_unknown(value: Any) -> bool:
    """Whether a value is not known yet (a preview of an output that does not exist yet)."""
    return isinstance(value, Unknown)


def contains(value: Any, test: Callable[[Any], bool]) -> bool:
    """Whether ``test`` holds for a value or anything nested in it (mappings, lists)."""
    if test(value):
        return True
    if isinstance(value, Mapping):
        return any(contains(v, test) for v in value.values())
    if isinstance(value, list | tuple):
        return any(contains(v, test) for v in value)
    return False


def contains_unknown(value: Any) -> bool:
    """Whether a value or anything nested in it is unknown."""
    return contains(value, is_unknown)


def to_props(value: Any) -> Any:
    """Turn typed ``...Args`` dataclasses (at any depth) into the plain dicts Pulumi sends.

    Fields left as ``None`` are dropped, so a default applies; a Pulumi ``Output`` stays an
    output for the engine to resolve, its value turned into plain data the same way (so an
    ``Output`` of an ``...Args`` serializes too).
    """
    if isinstance(value, pulumi.Output):
        return value.apply(to_props)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: to_props(getattr(value, field.name))
            for field in dataclasses.fields(value)
            if getattr(value, field.name) is not None
        }
    if isinstance(value, Mapping):
        return {key: to_props(item) for key, item in value.items() if item is not None}
    if isinstance(value, list | tuple):
        return [to_props(item) for item in value]
    return value


def normalize_number(value: Any) -> Any:
    """Undo the wire's float-only numbers: ``3.0`` becomes ``3`` at any depth."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {key: normalize_number(item) for key, item in value.items()}
    if isinstance(value, list):
        return [normalize_number(item) for item in value]
    return value


def with_defaults(specs: Iterable[FieldSpec], inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs with every missing defaulted field filled in, numbers normalised."""
    filled = {key: normalize_number(value) for key, value in inputs.items()}
    for spec in specs:
        if spec.has_default and filled.get(spec.name) is None:
            filled[spec.name] = spec.default
    return filled


def plan_diff(
    specs: Sequence[FieldSpec],
    olds: Mapping[str, Any],
    news: Mapping[str, Any],
    *,
    unique_name_fields: Iterable[str] = (),
) -> DiffPlan:
    """Compare recorded outputs with checked inputs, field by field; ``__provider`` never counts.

    An unknown new value counts as a change, and as a replace where the field replaces.
    ``unique_name_fields`` are the fields that together make an object's name unique in MMS
    (a service's name and account). A replacement that keeps all of them must delete the
    old object first, because the new one would take the same name; one that changes any
    of them creates the new object first, as Pulumi does by default.
    """
    changed: list[str] = []
    replaces: list[str] = []
    for spec in specs:
        if spec.on_change is OnChange.IGNORE:
            continue
        old = olds.get(spec.name, spec.default if spec.has_default else None)
        new = news.get(spec.name, spec.default if spec.has_default else None)
        if not contains_unknown(new) and normalize_number(old) == normalize_number(new):
            continue
        changed.append(spec.name)
        if spec.on_change is OnChange.REPLACE:
            replaces.append(spec.name)
    unique = set(unique_name_fields)
    name_kept = bool(unique) and not (unique & set(changed))
    return DiffPlan(
        changed=tuple(changed),
        replaces=tuple(replaces),
        delete_before_replace=bool(replaces) and name_kept,
    )


def python_parts(problem: FieldProblem) -> tuple[str | int, ...]:
    """A problem's path in Python names (``registryInfo`` → ``registry_info``)."""
    return tuple(to_snake(part) if isinstance(part, str) else part for part in problem.path)


def under_unknown(inputs: Mapping[str, Any], path: Sequence[str | int]) -> bool:
    """Whether the value at ``path``, or a value enclosing it, is unknown."""
    node: Any = inputs
    for part in path:
        if is_unknown(node):
            return True
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                return False
            node = node[part]
        else:
            if not isinstance(node, Mapping) or part not in node:
                return False
            node = node[part]
    return is_unknown(node)


def unknown_keys(
    model: type[BaseModel], data: Any, path: tuple[str | int, ...] = ()
) -> list[FieldProblem]:
    """Keys a nested input has that the wire model does not know (usually typos)."""
    if not isinstance(data, Mapping):
        return []
    problems: list[FieldProblem] = []
    known: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        known[name] = field.annotation
        if field.alias:
            known[field.alias] = field.annotation
    for key, value in data.items():
        if key not in known:
            allowed = ", ".join(sorted(model.model_fields))
            problems.append(
                FieldProblem(path=(*path, key), rule=f"is not a known field; allowed: {allowed}")
            )
            continue
        problems.extend(_unknown_keys_in(known[key], value, (*path, key)))
    return problems


def _unknown_keys_in(
    annotation: Any, value: Any, path: tuple[str | int, ...]
) -> list[FieldProblem]:
    for candidate in _model_types(annotation):
        if isinstance(value, list):
            return [
                problem
                for index, item in enumerate(value)
                for problem in unknown_keys(candidate, item, (*path, index))
            ]
        return unknown_keys(candidate, value, path)
    return []


def _model_types(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for argument in getattr(annotation, "__args__", ()):
        found.extend(_model_types(argument))
    return found
