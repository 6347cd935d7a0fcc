"""The harness's ignore_changes paths behave as the engine's ``ParsePropertyPath`` and
``PropertyPath.Reset`` (``sdk/go/common/resource/properties_path.go``)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.harness.paths import parse_path, reset
from tests.harness.secrets import wrap


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("name", ["name"]),
        ("registry_info.password", ["registry_info", "password"]),
        ("assets[0].url", ["assets", 0, "url"]),
        ('tags["a.b"]', ["tags", "a.b"]),
        ('x["say \\"hi\\""]', ["x", 'say "hi"']),
        ("assets[*].url", ["assets", "*", "url"]),
        ("*", ["*"]),
    ],
)
def test_paths_parse(text: str, parts: list[Any]) -> None:
    assert parse_path(text) == parts


@pytest.mark.parametrize("text", ["", ".a", "a..b", "a[", "a[x]", 'a["b'])
def test_malformed_paths_are_none(text: str) -> None:
    assert parse_path(text) is None


def _reset(text: str, old: dict[str, Any], new: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    path = parse_path(text)
    assert path is not None
    return reset(path, old, new), new


def test_reset_sets_a_nested_value_back_and_removes_what_old_lacked() -> None:
    old = {"registry": {"user": "u", "password": "old"}, "assets": [{"url": "a"}]}
    assert _reset("registry.password", old, {"registry": {"user": "v", "password": "new"}}) == (
        True,
        {"registry": {"user": "v", "password": "old"}},
    )
    assert _reset("assets[0].url", old, {"assets": [{"url": "b"}]}) == (
        True,
        {"assets": [{"url": "a"}]},
    )
    assert _reset("extra", old, {"extra": 1}) == (True, {})


def test_reset_refuses_paths_through_added_or_removed_elements() -> None:
    ok, new = _reset("assets[1].url", {"assets": [{"url": "a"}]}, {"assets": [{"url": "b"}]})
    assert not ok and new == {"assets": [{"url": "b"}]}
    ok, new = _reset("assets[1]", {"assets": [1]}, {"assets": [1, 2]})
    assert not ok and new == {"assets": [1, 2]}
    ok, _ = _reset("a.b", {"a": {"b": 1}}, {})
    assert not ok


def test_reset_keeps_a_secret_secret_and_wildcards_cover_every_element() -> None:
    ok, new = _reset("registry.password", {"registry": wrap({"password": "s"})}, {"registry": {}})
    assert ok and new == {"registry": {"password": wrap("s")}}
    ok, new = _reset(
        "assets[*].url",
        {"assets": [{"url": "a"}, {"url": "b"}]},
        {"assets": [{"url": "x"}, {"url": "y"}]},
    )
    assert ok and new == {"assets": [{"url": "a"}, {"url": "b"}]}
