"""A tiny dynamic provider for testing the harness itself.

Its "remote side" is a JSON file (path from the ``store`` input, else the
``HARNESS_TOY_STORE`` environment variable) holding the objects and a log of every
provider call, so tests can check what the plugin really did and in which order.

Inputs: ``tag`` (the logical name, for the log), ``label`` and ``data`` (updated in place),
``kind`` (a change forces replacement), ``dbr`` (ask for delete-before-replace),
``fail`` ("create", "update", "delete" or "empty-id"), ``sleep`` (seconds inside create),
``engine_diff`` (answer Diff with ``changes=None``, leaving the comparison to the engine),
``read_inputs`` (``read`` also returns inputs). Outputs: the inputs plus ``serial`` (a
counter per created object) and ``revision``. A delete of an object whose id the store
lists under ``refuse_delete`` fails.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)
from pulumi.output import Unknown

STORE_ENV = "HARNESS_TOY_STORE"
FIELDS = ("label", "kind", "data")
T = TypeVar("T")


class ToyStore:
    """The JSON file standing in for a remote API; safe across processes and threads."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(f"{self.path}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read(self) -> dict[str, Any]:
        if not self.path.exists():
            return {"objects": {}, "calls": [], "next": 1}
        return dict(json.loads(self.path.read_text()))

    def change(self, action: Callable[[dict[str, Any]], T]) -> T:
        """Run ``action`` on the document under the lock and write it back."""
        with self._locked():
            document = self._read()
            answer = action(document)
            self.path.write_text(json.dumps(document, indent=1, sort_keys=True))
            return answer

    def document(self) -> dict[str, Any]:
        """The whole document."""
        with self._locked():
            return self._read()

    def objects(self) -> dict[str, dict[str, Any]]:
        """Object id → fields."""
        return dict(self.document()["objects"])

    def calls(self, *ops: str) -> list[dict[str, Any]]:
        """The provider calls logged so far (only the given operations, if any)."""
        return [c for c in self.document()["calls"] if not ops or c["op"] in ops]

    def log(self, op: str, **details: Any) -> None:
        """Append one entry to the call log."""
        self.change(lambda doc: doc["calls"].append({"op": op, **details}))


def _store(props: dict[str, Any]) -> ToyStore:
    path = props.get("store")
    if not isinstance(path, str) or not path:
        path = os.environ[STORE_ENV]
    return ToyStore(path)


def _unknown_keys(props: dict[str, Any]) -> list[str]:
    return sorted(k for k, v in props.items() if isinstance(v, Unknown))


def _fields(props: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in props.items() if k != "__provider"}


class ToyProvider(ResourceProvider):
    """The toy's CRUD; every call is logged in the store. ``note`` only changes the
    pickled provider (``__provider``)."""

    def __init__(self, note: str = "") -> None:
        super().__init__()
        self.note = note

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        _store(news).log(
            "check", tag=news.get("tag"), olds_empty=not olds, unknown=_unknown_keys(news)
        )
        failures = []
        if news.get("label") == "":
            failures.append(CheckFailure("label", "label must not be empty"))
        return CheckResult(news, failures)

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in FIELDS if olds.get(k) != news.get(k)]
        _store(news).log(
            "diff", tag=news.get("tag"), id=id_, changed=changed, unknown=_unknown_keys(news)
        )
        if news.get("engine_diff"):
            return DiffResult(changes=None, replaces=[])
        return DiffResult(
            changes=bool(changed),
            replaces=[k for k in changed if k == "kind"],
            delete_before_replace=bool(news.get("dbr")),
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        store = _store(props)
        store.log("create-start", tag=props.get("tag"))
        if props.get("sleep"):
            time.sleep(float(props["sleep"]))
        if props.get("fail") == "create":
            raise RuntimeError(f"toy create refused for {props.get('tag')}")

        def add(doc: dict[str, Any]) -> tuple[str, dict[str, Any]]:
            serial = doc["next"]
            doc["next"] = serial + 1
            ident = f"toy-{serial}"
            outs = {**_fields(props), "serial": serial, "revision": 1}
            doc["objects"][ident] = outs
            doc["calls"].append({"op": "create", "tag": props.get("tag"), "id": ident})
            return ident, outs

        ident, outs = store.change(add)
        return CreateResult("" if props.get("fail") == "empty-id" else ident, outs)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        store = _store(props)
        store.log("read", tag=props.get("tag"), id=id_)
        found = store.objects().get(id_)
        if found is None:
            return ReadResult("", {})
        if props.get("read_inputs"):
            inputs = {k: v for k, v in found.items() if k not in ("serial", "revision")}
            return ReadResult(id_, found, inputs)
        return ReadResult(id_, found)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        if news.get("fail") == "update":
            raise RuntimeError(f"toy update refused for {news.get('tag')}")

        def put(doc: dict[str, Any]) -> dict[str, Any]:
            old = doc["objects"][id_]
            outs = {**_fields(news), "serial": old["serial"], "revision": old["revision"] + 1}
            doc["objects"][id_] = outs
            doc["calls"].append({"op": "update", "tag": news.get("tag"), "id": id_})
            return outs

        return UpdateResult(_store(news).change(put))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        if props.get("fail") == "delete":
            raise RuntimeError(f"toy delete refused for {props.get('tag')}")

        def drop(doc: dict[str, Any]) -> None:
            if id_ in doc.get("refuse_delete", []):
                raise RuntimeError(f"toy delete of {id_} refused by the remote side")
            doc["objects"].pop(id_, None)
            doc["calls"].append({"op": "delete", "tag": props.get("tag"), "id": id_})

        _store(props).change(drop)


class Toy(Resource, module="toy", name="Toy"):
    """A toy object (type ``pulumi-python:dynamic/toy:Toy``)."""

    label: pulumi.Output[str]
    kind: pulumi.Output[str]
    data: pulumi.Output[Any]
    serial: pulumi.Output[float]
    revision: pulumi.Output[float]

    def __init__(
        self,
        name: str,
        label: pulumi.Input[str],
        *,
        kind: pulumi.Input[str] = "plain",
        data: pulumi.Input[Any] | None = None,
        dbr: bool | None = None,
        fail: str | None = None,
        sleep: float | None = None,
        engine_diff: bool | None = None,
        read_inputs: bool | None = None,
        store: str | None = None,
        provider_note: str = "",
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "tag": name,
            "label": label,
            "kind": kind,
            "data": data,
            "dbr": dbr,
            "fail": fail,
            "sleep": sleep,
            "engine_diff": engine_diff,
            "read_inputs": read_inputs,
            "store": store,
            # Output-only: declared as None so the SDK resolves them from the outputs.
            "serial": None,
            "revision": None,
        }
        super().__init__(ToyProvider(provider_note), name, props, opts)
