"""Property values as the Go engine holds them, and their wire form.

Inside the harness a property value is plain JSON-like Python data in which

* a secret is the wire form ``{SIG_KEY: SECRET_SIG, "value": v}`` *at the place it was
  marked* (the Python SDK's own deserializer pushes nested secrets up to the enclosing
  object; the engine does not, and ``annotateSecrets`` depends on where they sit);
* an unknown (preview only) is the string sentinel ``rpc.UNKNOWN``, the only unknown a
  Python program or plugin ever produces;
* numbers are floats once they have crossed the wire, as in the engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.protobuf import json_format, struct_pb2
from pulumi.runtime import rpc

SIG_KEY: str = rpc._special_sig_key
SECRET_SIG: str = rpc._special_secret_sig
RESOURCE_SIG: str = rpc._special_resource_sig
UNKNOWN: str = rpc.UNKNOWN

Props = dict[str, Any]


def is_secret(value: Any) -> bool:
    """Whether a value is a wrapped secret."""
    return isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG


def is_unknown(value: Any) -> bool:
    """Whether a value is the unknown sentinel (or the SDK's ``Unknown``)."""
    from pulumi.output import Unknown

    return isinstance(value, Unknown) or (isinstance(value, str) and value == UNKNOWN)


def contains_unknowns(value: Any) -> bool:
    """Whether a value is, or holds at any depth, an unknown."""
    if is_unknown(value):
        return True
    if isinstance(value, dict):
        return any(contains_unknowns(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_unknowns(v) for v in value)
    return False


def strip_secrets(value: Any) -> Any:
    """The value with every secret mark removed, at any depth (what the engine sends a
    provider that did not accept secrets)."""
    if is_secret(value):
        return strip_secrets(value["value"])
    if isinstance(value, dict):
        return {key: strip_secrets(item) for key, item in value.items()}
    if isinstance(value, list):
        return [strip_secrets(item) for item in value]
    return value


def from_struct(struct: struct_pb2.Struct, *, preview: bool = False) -> Props:
    """Wire struct → engine view: secrets kept in place, unknowns as the sentinel, resource
    references reduced to their ID (or URN), as for a provider with ``acceptResources=False``."""
    plain = json_format.MessageToDict(struct)
    return dict(_from_wire(plain, preview))


def _from_wire(value: Any, preview: bool) -> Any:
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return {SIG_KEY: SECRET_SIG, "value": _from_wire(value.get("value"), preview)}
        if value.get(SIG_KEY) == RESOURCE_SIG:
            ident = value.get("id")
            if ident is None:
                return value.get("urn", "")
            # The SDK sends an unknown ID as "" or as the sentinel.
            return UNKNOWN if ident in ("", UNKNOWN) and preview else ident or value.get("urn")
        return {key: _from_wire(item, preview) for key, item in value.items()}
    if isinstance(value, list):
        return [_from_wire(item, preview) for item in value]
    return value


def to_struct(values: Mapping[str, Any]) -> struct_pb2.Struct:
    """Engine view → wire struct. Nulls are sent, as the engine's marshaller does for
    provider requests (``sdk/go/common/resource/plugin/rpc.go`` ``MarshalProperties``:
    ``SkipNulls`` is never set for them); the SDK drops null map values on receipt."""
    struct = struct_pb2.Struct()
    struct.update(_to_wire(dict(values)))
    return struct


def _to_wire(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _to_wire(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_wire(item) for item in value]
    if is_unknown(value):
        return UNKNOWN
    return value
