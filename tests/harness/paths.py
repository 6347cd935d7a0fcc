"""Property paths as ``ignore_changes`` names them (``a.b[0]["c.d"]``, ``*`` for every
element), and the engine's reset of an ignored path to its old value
(``sdk/go/common/resource/properties_path.go`` ``ParsePropertyPath`` and
``PropertyPath.Reset``; applied per path by ``pkg/resource/deploy/step_generator.go``
``processIgnoreChanges``)."""

from __future__ import annotations

from typing import Any

from tests.harness.secrets import wrap
from tests.harness.wire import is_secret

Path = list[str | int]
WILDCARD = "*"


def parse_path(text: str) -> Path | None:
    """The components of a path, or None when it is malformed (the engine skips those)."""
    parts: Path = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "[":
            close = text.find("]", i)
            if close < 0:
                return None
            if text.startswith('["', i):
                key, i = _quoted(text, i + 2)
                if key is None:
                    return None
                parts.append(key)
                continue
            inner = text[i + 1 : close]
            if inner == WILDCARD:
                parts.append(WILDCARD)
            elif inner.isascii() and inner.isdigit():
                parts.append(int(inner))
            else:
                return None
            i = close + 1
            continue
        if char == ".":
            if not parts:
                return None
            i += 1
        elif parts:
            return None  # a name must follow a dot or start the path
        start = i
        while i < n and text[i] not in ".[":
            i += 1
        if i == start:
            return None
        parts.append(text[start:i])
    return parts or None


def _quoted(text: str, i: int) -> tuple[str | None, int]:
    """A ``["..."]`` key from just after its opening quote: (key, index after ``"]``)."""
    key: list[str] = []
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            key.append(text[i + 1])
            i += 2
            continue
        if char == '"':
            if text.startswith('"]', i):
                return "".join(key), i + 2
            return None, i
        key.append(char)
        i += 1
    return None, i


def reset(path: Path, old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Set the value at ``path`` in ``new`` (changed in place) to the one in ``old``, or
    remove it where ``old`` has none; False where the path cannot be followed (an element
    added or removed on the way), as the engine's ``Reset``."""
    return _reset(path, old, new, False, False)


def _reset(path: Path, old: Any, new: Any, old_secret: bool, new_secret: bool) -> bool:
    if not path:
        return False
    if is_secret(old):
        old, old_secret = old["value"], True
    if is_secret(new):
        new, new_secret = new["value"], True
    key, rest = path[0], path[1:]

    def kept(value: Any) -> Any:
        # A value reset from a secret old into a plain context stays secret.
        return wrap(value) if old_secret and not new_secret else value

    if isinstance(key, int):
        both = isinstance(old, list) and isinstance(new, list)
        if not rest:
            if not isinstance(old, list) and not isinstance(new, list):
                return True
            if not both:
                return False
            if key >= len(old) and key >= len(new):
                return True
            if key >= len(old) or key >= len(new):
                return False
            new[key] = kept(old[key])
            return True
        if not both:
            return not isinstance(old, list) and not isinstance(new, list)
        if key >= len(old) or key >= len(new):
            return False
        return _reset(rest, old[key], new[key], old_secret, new_secret)

    if key == WILDCARD:
        return _reset_all(rest, old, new, old_secret, new_secret, kept)

    if not rest:
        if isinstance(old, dict) and key in old:
            if not isinstance(new, dict):
                return False
            new[key] = kept(old[key])
        elif isinstance(new, dict):
            new.pop(key, None)
        return True
    if not isinstance(old, dict) or not isinstance(new, dict):
        return not isinstance(old, dict) and not isinstance(new, dict)
    if key in old and key not in new:
        return False
    if key not in old and key not in new:
        return True
    return _reset(rest, old.get(key), new[key], old_secret, new_secret)


def _reset_all(
    rest: Path, old: Any, new: Any, old_secret: bool, new_secret: bool, kept: Any
) -> bool:
    """``*``: every element of an object or array."""
    if not rest:
        if isinstance(new, dict):
            if isinstance(old, dict):
                for name in list(new):
                    if name not in old:
                        del new[name]
                for name, value in old.items():
                    new[name] = kept(value)
            return True
        if isinstance(new, list):
            if isinstance(old, list):
                for index in range(min(len(old), len(new))):
                    new[index] = kept(old[index])
                return len(old) == len(new)
            return True
        return False
    if isinstance(old, dict) and isinstance(new, dict):
        return all(
            name in new and _reset(rest, old[name], new[name], old_secret, new_secret)
            for name in old
        )
    if isinstance(old, list) and isinstance(new, list):
        pairs = zip(old, new, strict=False)
        followed = all(_reset(rest, o, n, old_secret, new_secret) for o, n in pairs)
        return followed and len(old) == len(new)
    return False
