"""A guard against the Pulumi SDK's ever-deeper pickler patch.

``pulumi.dynamic.serialize_provider`` replaces ``pickle._Pickler._batch_setitems`` with a
sorting wrapper around whatever is there and never puts the original back. Each dynamic
resource adds one more wrapper, so a program that creates about a thousand dynamic
resources in one process fails with ``RecursionError`` while pickling a provider. Putting
the standard library's function back before each resource keeps the chain one deep; the
SDK still sorts, so pickles stay deterministic.
"""

from __future__ import annotations

import pickle
from typing import Any

_STDLIB_QUALNAME = "_Pickler._batch_setitems"


def _stdlib_batch_setitems(current: Any) -> Any:
    """Follow the SDK's wrappers (closures over the previous function) to the original."""
    seen = 0
    while getattr(current, "__qualname__", "") != _STDLIB_QUALNAME and seen < 100_000:
        cells = [cell.cell_contents for cell in (getattr(current, "__closure__", None) or ())]
        previous = [c for c in cells if callable(c) and "batch" in getattr(c, "__name__", "")]
        if not previous:
            return None
        current = previous[0]
        seen += 1
    return current if getattr(current, "__qualname__", "") == _STDLIB_QUALNAME else None


def reset_sdk_pickler_patch() -> None:
    """Put the standard ``_batch_setitems`` back if the SDK left wrappers around it."""
    current = pickle._Pickler.__dict__.get("_batch_setitems")
    if getattr(current, "__qualname__", "") == _STDLIB_QUALNAME:
        return
    original = _stdlib_batch_setitems(current)
    if original is not None:
        pickle._Pickler._batch_setitems = original  # type: ignore[attr-defined]
