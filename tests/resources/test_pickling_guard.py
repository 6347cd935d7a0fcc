"""Thousands of dynamic resources in one program must not exhaust the recursion limit."""

from __future__ import annotations

import pickle

from pulumi.dynamic.dynamic import serialize_provider

from mms_pulumi.resources import ModelProvider
from mms_pulumi.resources._pickling import reset_sdk_pickler_patch


def test_sdk_wrappers_are_unwound_and_pickles_stay_identical() -> None:
    first = serialize_provider(ModelProvider())
    for _ in range(1500):
        reset_sdk_pickler_patch()
        assert serialize_provider(ModelProvider()) == first
    reset_sdk_pickler_patch()
    assert pickle._Pickler._batch_setitems.__qualname__ == "_Pickler._batch_setitems"  # type: ignore[attr-defined]
