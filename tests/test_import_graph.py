"""The package's import graph: layers that only look down, no cycle, narrow faces.

Read from the source with ``ast`` (every import, at module level or inside a function), so
an import added anywhere is seen without running it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "mms_pulumi"

# Each top-level room of ``mms_pulumi`` and its floor: a room imports only rooms on lower
# floors. ``mms_pulumi/__init__.py`` is the package's face and stands above them all.
FLOORS = {
    "_lazy": 0,
    "local": 0,
    "schema": 0,
    "schema_2017_09": 1,
    "errors": 1,
    "auth": 2,
    "wire": 2,
    "client": 3,
    "emulator": 3,
    "account": 4,
    "resources": 5,
    "policy": 6,
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(path): path for path in PACKAGE.rglob("*.py")}


def _imports(path: Path) -> Iterator[tuple[str, str | None]]:
    """(module, imported name or None) for each import of ours in the file."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mms_pulumi"):
            for alias in node.names:
                yield node.module or "", alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("mms_pulumi"):
                    yield alias.name, None


def _targets(module: str, name: str | None) -> set[str]:
    """The modules an import loads: the module, or the submodule it names."""
    if name is not None and f"{module}.{name}" in MODULES:
        return {f"{module}.{name}"}
    return {module}


EDGES = {
    source: {target for m, n in _imports(path) for target in _targets(m, n)}
    for source, path in MODULES.items()
}


def _room(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_every_room_has_a_floor() -> None:
    rooms = {_room(module) for module in MODULES} - {None}
    assert rooms == set(FLOORS)


def test_rooms_import_only_rooms_below_them() -> None:
    upward = sorted(
        f"{source} -> {target}"
        for source, targets in EDGES.items()
        for target in targets
        if (low := _room(source)) is not None
        and (high := _room(target)) is not None
        and low != high
        and FLOORS[high] >= FLOORS[low]
    )
    assert upward == []


def test_no_module_imports_itself_round_a_cycle() -> None:
    # Each package's lazy ``__init__`` names its submodules only for type checkers and
    # loads them on first use, so an edge into a package face is not followed through it.
    state: dict[str, str] = {}
    cycles: list[str] = []

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for target in sorted(EDGES.get(module, ())):
            if target == module or (PACKAGE / Path(*target.split(".")[1:]) / "__init__.py") == (
                MODULES.get(target)
            ):
                continue
            if state.get(target) == "open":
                cycles.append(" -> ".join([*trail[trail.index(target) :], target]))
            elif target not in state:
                visit(target, [*trail, target])
        state[module] = "done"

    for module in sorted(MODULES):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_outside_the_emulator_only_its_face_is_imported() -> None:
    """The Pulumi side starts or reuses an emulator through ``mms_pulumi.emulator``'s
    exported names; what is under them can change without it noticing."""
    reaching_in = sorted(
        f"{source} -> {target}"
        for source, targets in EDGES.items()
        if _room(source) != "emulator"
        for target in targets
        if target.startswith("mms_pulumi.emulator.")
    )
    assert reaching_in == []


def test_no_room_imports_a_private_name_of_another() -> None:
    private = sorted(
        f"{source} imports {module}.{name}"
        for source, path in MODULES.items()
        for module, name in _imports(path)
        if name is not None
        and name.startswith("_")
        and not (name.startswith("__") and name.endswith("__"))  # __all__ is public
        and _room(module) != _room(source)
        and f"{module}.{name}" not in MODULES
    )
    assert private == []
