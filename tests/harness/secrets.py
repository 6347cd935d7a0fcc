"""The engine's secret rules, and a state file in which no secret is ever plaintext."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from typing import Any

from pulumi.runtime import rpc

SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
_KEY = b"mms-pulumi-harness"


def is_secret(value: Any) -> bool:
    """Whether a value is a wrapped secret."""
    return bool(rpc.is_rpc_secret(value))


def wrap(value: Any) -> Any:
    """Mark a value secret (once)."""
    return value if is_secret(value) else rpc.wrap_rpc_secret(value)


def contains_secret(value: Any) -> bool:
    """Whether a value is, or holds at any depth, a secret."""
    if is_secret(value):
        return True
    if isinstance(value, dict):
        return any(contains_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_secret(v) for v in value)
    return False


def annotate(outputs: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """The engine's ``annotateSecrets``: objects recurse; an input holding a secret makes the
    whole same-named output secret."""
    annotated = dict(outputs)
    for key, out in outputs.items():
        if key not in inputs:
            continue
        given = inputs[key]
        if (
            isinstance(out, dict)
            and isinstance(given, dict)
            and not is_secret(out)
            and not is_secret(given)
        ):
            annotated[key] = annotate(out, given)
        elif contains_secret(given) and not is_secret(out):
            annotated[key] = wrap(out)
    return annotated


def mark_outputs(
    outputs: dict[str, Any], inputs: dict[str, Any], additional: Iterable[str]
) -> dict[str, Any]:
    """Outputs as the step executor stores them: annotated, ``additional_secret_outputs``, and
    every top-level output whose input is a secret."""
    marked = annotate(outputs, inputs)
    for key in additional:
        if key in marked and marked[key] is not None:
            marked[key] = wrap(marked[key])
    for key, given in inputs.items():
        if key in marked and is_secret(given):
            marked[key] = wrap(marked[key])
    return marked


def encode(value: Any) -> Any:
    """A value for the state file: secrets become ciphertext."""
    if is_secret(value):
        plain = json.dumps(rpc.unwrap_rpc_secret(value)).encode()
        cipher = bytes(b ^ _KEY[i % len(_KEY)] for i, b in enumerate(plain))
        return {SIG_KEY: SECRET_SIG, "ciphertext": base64.b64encode(cipher).decode()}
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [encode(v) for v in value]
    return value


def decode(value: Any) -> Any:
    """Back from the state file: ciphertext becomes a wrapped secret again."""
    if isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG and "ciphertext" in value:
        cipher = base64.b64decode(value["ciphertext"])
        plain = bytes(b ^ _KEY[i % len(_KEY)] for i, b in enumerate(cipher))
        return rpc.wrap_rpc_secret(json.loads(plain))
    if isinstance(value, dict):
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def render(value: Any) -> Any:
    """A value as the CLI prints it: secrets shown as ``[secret]``."""
    if is_secret(value):
        return "[secret]"
    if isinstance(value, dict):
        return {k: render(v) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v) for v in value]
    return value


def assert_no_plaintext(secrets: Iterable[str], *texts: str) -> None:
    """Fail if any secret appears in any of the texts."""
    for secret in secrets:
        for text in texts:
            assert secret not in text, f"a secret ({secret[:3]}…) appears in plaintext"
