"""The engine's secret rules for a provider with ``acceptSecrets=False``, and the secret
encoding of the state file (so plaintext never reaches it)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from typing import Any

from tests.harness.wire import SECRET_SIG, SIG_KEY, Props, is_secret, is_unknown

# Any fixed reversible scrambling will do: the point is that no plaintext lands on disk.
_KEY = b"mms-pulumi-harness"


def wrap(value: Any) -> Any:
    """Mark a value secret (once)."""
    return value if is_secret(value) else {SIG_KEY: SECRET_SIG, "value": value}


def contains_secret(value: Any) -> bool:
    """Whether a value is, or holds at any depth, a secret."""
    if is_secret(value):
        return True
    if isinstance(value, dict):
        return any(contains_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_secret(v) for v in value)
    return False


def annotate(outputs: Mapping[str, Any], inputs: Mapping[str, Any]) -> Props:
    """The engine's ``annotateSecrets(outs, ins)``: for a key in both maps, two (non-secret)
    objects recurse; otherwise an input holding a secret anywhere makes the whole output
    value secret. Applied to every provider response."""
    annotated = dict(outputs)
    for key, out in outputs.items():
        if key not in inputs:
            continue
        given = inputs[key]
        both_objects = isinstance(out, dict) and isinstance(given, dict)
        if both_objects and not is_secret(out) and not is_secret(given):
            annotated[key] = annotate(out, given)
        elif contains_secret(given) and not is_secret(out):
            annotated[key] = wrap(out)
    return annotated


def step_rules(
    outputs: Mapping[str, Any], inputs: Mapping[str, Any], additional: Iterable[str]
) -> Props:
    """What the step executor adds for a step with a new state: each top-level key in
    ``additional_secret_outputs``, then each top-level output whose input is a secret."""
    marked = dict(outputs)
    for key in additional:
        if key in marked:
            marked[key] = wrap(marked[key])
    for key, given in inputs.items():
        if key in marked and is_secret(given):
            marked[key] = wrap(marked[key])
    return marked


def encode(value: Any) -> Any:
    """A value for the state file: each secret becomes a ciphertext envelope."""
    if is_secret(value):
        plain = json.dumps(value["value"]).encode()
        cipher = bytes(b ^ _KEY[i % len(_KEY)] for i, b in enumerate(plain))
        return {SIG_KEY: SECRET_SIG, "ciphertext": base64.b64encode(cipher).decode()}
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [encode(v) for v in value]
    return value


def decode(value: Any) -> Any:
    """Back from the state file: each ciphertext envelope becomes a wrapped secret."""
    if isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG and "ciphertext" in value:
        cipher = base64.b64decode(value["ciphertext"])
        plain = bytes(b ^ _KEY[i % len(_KEY)] for i, b in enumerate(cipher))
        return wrap(json.loads(plain))
    if isinstance(value, dict):
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def render(value: Any) -> Any:
    """A value as the CLI prints it: ``[secret]`` and ``[unknown]`` placeholders."""
    if is_secret(value):
        return "[secret]"
    if is_unknown(value):
        return "[unknown]"
    if isinstance(value, dict):
        return {k: render(v) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v) for v in value]
    return value


def assert_no_plaintext(secrets: Iterable[str], *texts: str) -> None:
    """Fail if any of the secrets appears in any of the texts (the failure message shows
    only the secret's first characters)."""
    for secret in secrets:
        assert secret, "an empty secret matches everything"
        for index, text in enumerate(texts):
            assert secret not in text, f"a secret ({secret[:3]}…) appears in text #{index}"
