"""The harness itself is faithful to the Pulumi engine: checked with the toy provider, whose
JSON store logs every call the real plugin process made."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pytest

from tests.harness import (
    UNKNOWN,
    Engine,
    EngineError,
    PluginProcess,
    assert_no_plaintext,
    is_secret,
    is_unknown,
    strip_secrets,
)
from tests.harness.plugin import REPO_ROOT
from tests.harness.toy import STORE_ENV, Toy, ToyStore

pytestmark = pytest.mark.timeout(60)

PASSWORD = "hunter2-harness"
TOKEN = "harness-config-token-5e1"


@dataclass
class Stack:
    """An engine over a toy program whose resources are described by ``spec``."""

    engine: Engine
    store: ToyStore
    spec: dict[str, dict[str, Any]]

    def ids(self) -> dict[str, str]:
        return {r.name: r.id for r in self.engine.load().values()}


def toy_program(spec: dict[str, dict[str, Any]]) -> Callable[[], None]:
    """Toys in spec order. ``label_from: other`` makes the label ``from-<other's id>`` (a
    property dependency), ``kind_from: other`` the kind (a change replaces); ``protect``
    protects; ``after: [names]`` adds ``depends_on``; ``secret_label`` makes
    the label a secret; ``secret_data`` nests a secret; ``secret_outputs`` sets
    ``additional_secret_outputs``; ``ignore`` / ``replace_on`` set ``ignore_changes`` /
    ``replace_on_changes``; ``get: id`` reads an existing object instead; ``import_: id``
    imports one. (Outputs
    are made inside the program: each run has its own event loop.)"""

    def program() -> None:
        made: dict[str, Toy] = {}
        for name, raw in spec.items():
            args = dict(raw)
            source = args.pop("label_from", None)
            if source is not None:
                args["label"] = made[source].id.apply(lambda ident: f"from-{ident}")
            kind_source = args.pop("kind_from", None)
            if kind_source is not None:
                args["kind"] = made[kind_source].id.apply(lambda ident: f"kind-of-{ident}")
            if "secret_label" in args:
                args["label"] = pulumi.Output.secret(args.pop("secret_label"))
            if args.pop("secret_data", False):
                args["data"] = {"nested": {"pw": pulumi.Output.secret(PASSWORD)}, "plain": 1}
            opts = pulumi.ResourceOptions(
                depends_on=[made[d] for d in args.pop("after", [])],
                id=args.pop("get", None),
                additional_secret_outputs=args.pop("secret_outputs", None),
                ignore_changes=args.pop("ignore", None),
                replace_on_changes=args.pop("replace_on", None),
                import_=args.pop("import_", None),
                protect=args.pop("protect", False),
            )
            made[name] = Toy(name, opts=opts, **args)
            pulumi.export(f"{name}_serial", made[name].serial)
            pulumi.export(f"{name}_label", made[name].label)

    return program


@pytest.fixture
def make_stack(tmp_path: Path) -> Callable[..., Stack]:
    def make(spec: dict[str, dict[str, Any]], stack: str = "dev") -> Stack:
        store = ToyStore(tmp_path / "remote.json")
        engine = Engine(
            toy_program(spec),
            project="toys",
            stack=stack,
            config={"toys:greeting": "hello", "toys:token": TOKEN},
            secret_keys={"toys:token"},
            state_path=tmp_path / f"{stack}.json",
            env={STORE_ENV: str(store.path)},
        )
        return Stack(engine, store, spec)

    return make


def ops_of(store: ToyStore, *ops: str) -> list[tuple[str, str]]:
    """(op, tag) of the remote calls of the given kinds, in order."""
    return [(call["op"], call["tag"]) for call in store.calls(*ops)]


def test_preview_creates_nothing_and_output_only_properties_are_unknown(
    make_stack: Callable[..., Stack],
) -> None:
    toys = make_stack({"a": {"label": "one"}, "b": {"label_from": "a"}})
    plan = toys.engine.preview()

    assert plan.ops() == {"a": "create", "b": "create"}
    methods = [call.method for call in plan.calls]
    assert methods[:4] == ["Handshake", "GetPluginInfo", "CheckConfig", "Configure"]
    assert plan.calls_to("Create", "Update", "Delete") == []
    assert toys.store.objects() == {} and not toys.engine.state_path.exists()
    configure = plan.calls_to("Configure")[0]
    assert configure.args["keys"] == ["toys:greeting", "toys:token"]
    assert configure.answer["acceptSecrets"] is False
    assert configure.answer["supportsPreview"] is False
    # b's label depends on a's ID, unknown until a exists: Check sees the sentinel.
    (check_b,) = [c for c in plan.calls_to("Check") if c.name == "b"]
    assert check_b.args["news"]["label"] == UNKNOWN
    assert ("check", "b") in ops_of(toys.store, "check")
    assert toys.store.calls("check")[-1]["unknown"] == ["label"]
    assert is_unknown(plan.outputs["a_serial"]) and is_unknown(plan.outputs["b_label"])
    assert plan.outputs["a_label"] == "one"  # an input: planned outputs are the inputs


def test_up_creates_and_a_second_up_changes_nothing(make_stack: Callable[..., Stack]) -> None:
    toys = make_stack({"a": {"label": "one"}, "b": {"label_from": "a"}})
    phases: list[str] = []
    pids: set[int | None] = set()

    def started(plugin: PluginProcess, phase: str) -> None:
        phases.append(phase)
        pids.add(plugin.pid)

    toys.engine.on_plugin = started

    result = toys.engine.up()

    assert result.ops() == {"a": "create", "b": "create"}
    assert phases == ["preview", "update"] and len(pids) == 2  # a plugin per deployment
    assert result.preview is not None and result.preview.calls_to("Create") == []
    ids = toys.ids()
    assert result.outputs["b_label"] == f"from-{ids['a']}"
    assert result.outputs["a_serial"] == 1
    assert result.provider_op == "create"
    assert set(toys.store.objects()) == set(ids.values())
    # The state records b's property dependency on a.
    state = {r.name: r for r in toys.engine.load().values()}
    assert state["b"].property_dependencies["label"] == [state["a"].urn]

    again = toys.engine.up(expect_no_changes=True)
    assert again.ops() == {"a": "same", "b": "same"} and again.provider_op == "same"
    # Diff is called for every resource in state, even with unchanged inputs.
    assert {call.name for call in again.calls_to("Diff")} == {"a", "b"}
    assert again.calls_to("Create", "Update", "Delete") == []
    toys.engine.preview(expect_no_changes=True)
    assert len(toys.store.calls("create")) == 2


def test_edit_updates_in_place_and_keeps_the_id(make_stack: Callable[..., Stack]) -> None:
    toys = make_stack({"a": {"label": "one"}, "b": {"label_from": "a"}})
    toys.engine.up()
    before = toys.ids()

    toys.spec["a"]["label"] = "two"
    plan = toys.engine.preview()
    assert plan.ops() == {"a": "update", "b": "same"}
    assert plan.step("a").diffs == ["label"]
    assert is_unknown(plan.outputs["a_serial"])  # outputs of an update are planned as inputs

    result = toys.engine.up()
    assert result.ops() == {"a": "update", "b": "same"}
    assert toys.ids() == before
    (update,) = result.calls_to("Update")
    assert update.args["olds"]["revision"] == 1  # olds are the old outputs
    assert update.args["news"]["label"] == "two"
    a = next(r for r in toys.engine.load().values() if r.name == "a")
    assert a.outputs["revision"] == 2 and a.inputs["label"] == "two"


def test_replace_is_create_before_delete_with_a_fresh_check(
    make_stack: Callable[..., Stack],
) -> None:
    toys = make_stack({"a": {"label": "one"}, "b": {"label_from": "a"}})
    toys.engine.up()
    old_a = toys.ids()["a"]

    toys.spec["a"]["kind"] = "fancy"
    plan = toys.engine.preview()
    assert plan.ops() == {"a": "replace", "b": "update"}
    assert plan.step("a").replaces == ["kind"]
    assert plan.calls_to("Create", "Update", "Delete") == []
    # In the preview the replacement's ID is unknown, so b's Diff sees an unknown label.
    (diff_b,) = [c for c in plan.calls_to("Diff") if c.name == "b"]
    assert diff_b.args["news"]["label"] == UNKNOWN

    calls_before = len(toys.store.calls())
    result = toys.engine.up()
    assert result.ops() == {"a": "replace", "b": "update"}
    checks_a = [c for c in result.calls_to("Check") if c.name == "a"]
    assert [bool(c.args["olds"]) for c in checks_a] == [True, False]  # second Check: olds={}
    remote = [(c["op"], c.get("tag")) for c in toys.store.calls()[calls_before:]]
    remote = [step for step in remote if step[0] in ("create", "update", "delete")]
    assert remote == [("create", "a"), ("update", "b"), ("delete", "a")]
    (delete,) = result.calls_to("Delete")
    assert delete.id == old_a
    new_a = toys.ids()["a"]
    assert new_a != old_a and set(toys.store.objects()) == {new_a, toys.ids()["b"]}
    assert result.outputs["b_label"] == f"from-{new_a}"
    assert toys.engine.snapshot().pending_deletes() == []
    toys.engine.up(expect_no_changes=True)


def test_delete_before_replace_deletes_first(make_stack: Callable[..., Stack]) -> None:
    toys = make_stack({"a": {"label": "one", "dbr": True}})
    toys.engine.up()
    toys.spec["a"]["kind"] = "fancy"
    calls_before = len(toys.store.calls())

    result = toys.engine.up()

    assert result.step("a").delete_before_replace
    remote = ops_of(toys.store, "create", "delete")
    assert remote[-2:] == [("delete", "a"), ("create", "a")]
    assert len(toys.store.calls()) > calls_before and len(toys.store.objects()) == 1


def test_delete_before_replace_first_deletes_the_dependents_it_would_replace(
    make_stack: Callable[..., Stack],
) -> None:
    # b's kind comes from a (a change replaces b); c's label comes from a (an update).
    toys = make_stack(
        {
            "a": {"label": "one", "dbr": True},
            "b": {"label": "two", "kind_from": "a", "dbr": True},
            "c": {"label_from": "a"},
        }
    )
    toys.engine.up()
    toys.spec["a"]["kind"] = "fancy"

    plan = toys.engine.preview()
    assert plan.ops() == {"a": "replace", "b": "replace", "c": "update"}
    assert [s.name for s in plan.steps if s.op == "delete-replaced"] == ["b"]
    # The cascade's Diff: b's inputs from a unknown; c's Diff in the plan sees a's new id
    # unknown too, but an update needs no delete first.
    (cascade_diff, *_) = [c for c in plan.calls_to("Diff") if c.name == "b"]
    assert cascade_diff.args["news"]["kind"] == UNKNOWN
    assert plan.calls_to("Create", "Update", "Delete") == []

    before = len(toys.store.calls())
    result = toys.engine.up()
    assert result.ops() == {"a": "replace", "b": "replace", "c": "update"}
    remote = [(c["op"], c["tag"]) for c in toys.store.calls()[before:]]
    remote = [call for call in remote if call[0] in ("create", "update", "delete")]
    assert remote == [
        ("delete", "b"),
        ("delete", "a"),
        ("create", "a"),
        ("create", "b"),
        ("update", "c"),
    ]
    assert len(toys.store.objects()) == 3
    toys.engine.up(expect_no_changes=True)


def test_an_interrupted_delete_before_replace_keeps_the_resource_pending(
    make_stack: Callable[..., Stack],
) -> None:
    toys = make_stack({"a": {"label": "one", "dbr": True}, "b": {"label": "two"}})
    toys.engine.up()
    toys.spec["a"].update(kind="fancy", fail="create")
    with pytest.raises(EngineError, match="toy create refused for a"):
        toys.engine.up()
    # The object is gone; its record stays, pending replacement.
    (a,) = [r for r in toys.engine.snapshot().resources if r.name == "a"]
    assert a.pending_replacement and a.id not in toys.store.objects()

    refreshed = toys.engine.refresh()
    assert [c.name for c in refreshed.calls_to("Read")] == ["b"]

    del toys.spec["a"]["fail"]
    result = toys.engine.up()
    assert result.ops()["a"] == "replace"
    assert [c.name for c in result.calls_to("Delete")] == []  # not deleted twice
    (a,) = [r for r in toys.engine.snapshot().resources if r.name == "a"]
    assert not a.pending_replacement and a.id in toys.store.objects()

    # A destroy of a stack holding a pending replacement removes only the record.
    toys.spec["a"].update(kind="plain", fail="create")
    with pytest.raises(EngineError):
        toys.engine.up()
    destroyed = toys.engine.destroy()
    assert [c.name for c in destroyed.calls_to("Delete")] == ["b"]
    assert ("remove-pending-replace", "a") in [(s.op, s.name) for s in destroyed.steps]
    assert toys.engine.snapshot().resources == []


def test_protection_blocks_replaces_and_deletes_as_the_engine_does(
    make_stack: Callable[..., Stack],
) -> None:
    toys = make_stack({"a": {"label": "one", "protect": True}, "b": {"label": "two"}})
    toys.engine.up()

    # Replacing a protected resource fails in the preview already.
    toys.spec["a"]["kind"] = "fancy"
    with pytest.raises(EngineError, match="unable to replace resource"):
        toys.engine.preview()
    # Unprotecting and replacing in one run works.
    toys.spec["a"]["protect"] = False
    assert toys.engine.up().ops()["a"] == "replace"

    # Removing a protected resource from the program fails the preview (so `up` stops
    # there), and an update without one still deletes what does not hold it up.
    toys.spec["a"]["protect"] = True
    toys.engine.up()
    del toys.spec["a"], toys.spec["b"]
    with pytest.raises(EngineError, match="unable to delete resource"):
        toys.engine.up()
    assert len(toys.engine.load()) == 2
    with pytest.raises(EngineError, match="unable to delete resource"):
        toys.engine.up(skip_preview=True)
    assert [r.name for r in toys.engine.load().values()] == ["a"]


def test_removed_resources_are_deleted_dependents_first(
    make_stack: Callable[..., Stack],
) -> None:
    toys = make_stack(
        {
            "a": {"label": "root"},
            "z": {"label": "unrelated"},
            "b": {"label_from": "a"},
            "c": {"label": "leaf", "after": ["b"]},
        }
    )
    toys.engine.up()
    for name in ("a", "b", "c"):
        del toys.spec[name]

    plan = toys.engine.preview()
    assert plan.ops() == {"z": "same", "c": "delete", "b": "delete", "a": "delete"}
    assert plan.calls_to("Delete") == []

    result = toys.engine.up()
    assert [c.name for c in result.calls_to("Delete")] == ["c", "b", "a"]
    assert ops_of(toys.store, "delete") == [("delete", "c"), ("delete", "b"), ("delete", "a")]
    assert set(toys.ids()) == {"z"}


def test_refresh_without_drift_changes_nothing(make_stack: Callable[..., Stack]) -> None:
    toys = make_stack({"a": {"label": "one"}, "b": {"label_from": "a"}})
    toys.engine.up()
    state_before = toys.engine.load()

    result = toys.engine.refresh(expect_no_changes=True)

    assert result.ops() == {"a": "same", "b": "same"}
    reads = result.calls_to("Read")
    assert [c.name for c in reads] == ["a", "b"]
    assert reads[0].args["properties"]["serial"] == 1  # properties are the old outputs
    assert "serial" not in reads[0].args["inputs"]  # inputs are the old inputs
    # The drift Diff gets the refreshed outputs as olds and the old inputs as news.
    diffs = result.calls_to("Diff")
    assert diffs[0].args["olds"]["serial"] == 1 and "serial" not in diffs[0].args["news"]
    assert toys.engine.load().keys() == state_before.keys()
    assert not any(c.method == "Check" for c in result.calls)  # the program is not run


def test_refresh_drops_vanished_objects_and_reports_drift(
    make_stack: Callable[..., Stack],
) -> None:
    toys = make_stack(
        {"a": {"label": "one"}, "b": {"label": "two"}, "c": {"label": "3", "read_inputs": True}}
    )
    toys.engine.up()
    ids = toys.ids()

    def tamper(doc: dict[str, Any]) -> None:
        del doc["objects"][ids["a"]]
        doc["objects"][ids["b"]]["label"] = "changed remotely"
        doc["objects"][ids["c"]]["label"] = "changed remotely"

    toys.store.change(tamper)
    with pytest.raises(EngineError, match="no changes were expected"):
        toys.engine.refresh(expect_no_changes=True)
    # That refresh was applied (refresh runs without a preview); the next one is clean.
    refreshed = toys.engine.results[-1]
    assert refreshed.ops() == {"a": "refresh-delete", "b": "update", "c": "update"}
    assert refreshed.step("b").diffs == ["label"]
    assert set(toys.ids()) == {"b", "c"}
    state = {r.name: r for r in toys.engine.load().values()}
    assert state["b"].outputs["label"] == "changed remotely" and state["b"].inputs["label"] == "two"
    # Inputs returned by Read replace the stored inputs.
    assert state["c"].inputs["label"] == "changed remotely"
    # b still drifts (its inputs were kept); c no longer does.
    assert toys.engine.refresh().ops() == {"b": "update", "c": "same"}

    # The next up sees the drift (Diff olds = refreshed outputs) and recreates a.
    result = toys.engine.up()
    assert result.ops() == {"a": "create", "b": "update", "c": "update"}
    assert toys.store.objects()[ids["b"]]["label"] == "two"


def test_destroy_deletes_everything_with_the_recorded_config(
    make_stack: Callable[..., Stack],
) -> None:
    toys = make_stack({"a": {"label": "one"}, "b": {"label_from": "a"}, "c": {"label_from": "b"}})
    toys.engine.up()
    toys.engine.config["toys:greeting"] = "changed after the update"

    result = toys.engine.destroy()

    assert [c.name for c in result.calls_to("Delete")] == ["c", "b", "a"]
    assert result.provider_op == "delete"
    assert toys.engine.load() == {} and toys.store.objects() == {}
    snapshot = toys.engine.snapshot()
    assert snapshot.outputs == {} and snapshot.config is None
    (configure,) = result.calls_to("Configure")
    assert configure.args["values"]["toys:greeting"] == "hello"
    assert configure.args["secret"] == ["toys:token"]


def test_secrets_never_reach_state_or_output_in_plaintext(
    make_stack: Callable[..., Stack],
) -> None:
    toys = make_stack(
        {
            "a": {"label": "one", "secret_data": True, "secret_outputs": ["serial"]},
            "b": {"secret_label": "secret-label-77"},
        }
    )
    result = toys.engine.up()
    toys.engine.up(expect_no_changes=True)
    toys.engine.refresh(expect_no_changes=True)

    state = {r.name: r for r in toys.engine.load().values()}
    a, b = state["a"], state["b"]
    # The nested secret stays secret at its own place (annotateSecrets recursion).
    assert is_secret(a.outputs["data"]["nested"]["pw"]) and a.outputs["data"]["plain"] == 1
    assert is_secret(a.outputs["__provider"]) and is_secret(a.inputs["__provider"])
    assert is_secret(a.outputs["serial"])  # additional_secret_outputs
    assert is_secret(b.outputs["label"])  # a top-level secret input makes the output secret
    assert is_secret(result.outputs["b_label"]) and is_secret(result.outputs["a_serial"])
    # The provider itself saw plaintext (the plugin answers acceptSecrets=False).
    (create_a,) = [c for c in result.calls_to("Create") if c.name == "a"]
    assert create_a.args["properties"]["data"]["nested"]["pw"] == PASSWORD
    assert PASSWORD not in toys.engine.state.text()
    assert "[secret]" in toys.engine.results[-2].render()
    assert_no_plaintext((PASSWORD, TOKEN, "secret-label-77"), toys.engine.all_text())
    assert strip_secrets(toys.engine.stack_outputs())["b_label"] == "secret-label-77"


def test_failed_steps_leave_the_state_the_engine_would(
    make_stack: Callable[..., Stack],
) -> None:
    toys = make_stack({"a": {"label": "one"}, "b": {"label": "two", "fail": "create"}})
    with pytest.raises(EngineError, match="toy create refused for b") as failed:
        toys.engine.up()
    assert failed.value.result is not None and failed.value.urn.endswith("::b")
    assert failed.value.result.errors == [str(failed.value)]
    assert "RuntimeError: toy create refused for b" in failed.value.result.render()
    assert set(toys.ids()) == {"a"}  # the failed create is not recorded, a is

    del toys.spec["b"]["fail"]
    toys.spec["a"].update(label="one-bis", fail="update")
    with pytest.raises(EngineError, match="toy update refused for a"):
        toys.engine.up()
    a = next(r for r in toys.engine.load().values() if r.name == "a")
    assert a.inputs["label"] == "one" and a.outputs["revision"] == 1  # old state kept

    del toys.spec["a"]["fail"]
    toys.spec["c"] = {"label": "three", "fail": "empty-id"}
    with pytest.raises(EngineError, match=r"plugin returned empty resource\.ID"):
        toys.engine.up()

    toys.spec["c"] = {"label": ""}
    with pytest.raises(EngineError, match="label must not be empty"):
        toys.engine.preview()


def test_a_killed_plugin_fails_the_update_clearly(make_stack: Callable[..., Stack]) -> None:
    toys = make_stack({"a": {"label": "one"}, "slow": {"label": "zzz", "sleep": 30}})

    def kill_during_create() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if ("create-start", "slow") in ops_of(toys.store, "create-start"):
                plugin = toys.engine.current_plugin
                assert plugin is not None
                plugin.kill()
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_during_create)
    killer.start()
    started = time.monotonic()
    with pytest.raises(EngineError, match=r"exited \(killed by SIGKILL\)") as failed:
        toys.engine.up()
    killer.join()
    assert time.monotonic() - started < 20
    assert "Create" in str(failed.value) and failed.value.method == "Create"
    assert "slow" not in toys.ids()

    toys.spec["slow"].pop("sleep")
    assert toys.engine.up().ops()["slow"] == "create"


def test_get_reads_an_existing_object_and_never_deletes_it(
    make_stack: Callable[..., Stack],
) -> None:
    owner = make_stack({"a": {"label": "one"}}, stack="owner")
    owner.engine.up()
    ident = owner.ids()["a"]
    reader = make_stack({"seen": {"label": "ignored", "get": ident}}, stack="reader")

    plan = reader.engine.preview()
    assert plan.ops() == {"seen": "read"}
    (read,) = plan.calls_to("Read")
    assert read.id == ident and read.args["properties"] == read.args["inputs"]

    result = reader.engine.up()
    assert result.outputs["seen_label"] == "one"  # what the remote side holds
    assert all(r.external for r in reader.engine.load().values())
    destroyed = reader.engine.destroy()
    assert destroyed.ops() == {"seen": "discard"} and destroyed.calls_to("Delete") == []
    assert ident in reader.store.objects()


def test_reading_a_managed_resource_under_another_id_deletes_the_managed_one(
    make_stack: Callable[..., Stack],
) -> None:
    toys = make_stack({"a": {"label": "one"}, "b": {"label": "two"}})
    toys.engine.up()
    ids = toys.ids()

    # a becomes a `.get` of b's object: the object a managed is let go and deleted.
    toys.spec["a"] = {"label": "ignored", "get": ids["b"]}
    result = toys.engine.up()
    assert result.ops()["a"] == "read-replacement" and result.counts()["read-replacement"] == 1
    assert [c.id for c in result.calls_to("Delete")] == [ids["a"]]
    assert set(toys.store.objects()) == {ids["b"]}

    # Read under its own ID, a managed resource is relinquished: kept, never deleted.
    toys.spec["b"] = {"label": "ignored", "get": ids["b"]}
    result = toys.engine.up()
    assert result.ops()["b"] == "read" and result.calls_to("Delete") == []
    assert all(r.external for r in toys.engine.load().values())


def test_other_providers_are_mocked_without_plugin_calls(tmp_path: Path) -> None:
    def program() -> None:
        secret = pulumi.CustomResource(
            "kubernetes:core/v1:Secret",
            "pull",
            {"metadata": {"name": "acr-pull"}, "stringData": pulumi.Output.secret("k8s-pw")},
        )
        pulumi.export("name", secret.id)

    engine = Engine(program, project="mocked", stack="dev", state_path=tmp_path / "s.json")
    plan = engine.preview()
    assert plan.ops() == {"pull": "create"} and plan.calls == []
    assert is_unknown(plan.outputs["name"])
    result = engine.up()
    assert result.outputs["name"] == "pull-id" and result.calls == []
    (pull,) = engine.load().values()
    assert pull.outputs["metadata"] == {"name": "acr-pull"}
    assert is_secret(pull.outputs["stringData"])
    assert engine.up(expect_no_changes=True).ops() == {"pull": "same"}
    assert_no_plaintext(("k8s-pw",), engine.all_text())


def test_a_program_directory_runs_in_its_own_directory_with_config(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "label.txt").write_text("from-a-file\n")
    (project / "__main__.py").write_text(
        "import pulumi\n"
        "from tests.harness.toy import Toy\n"
        "config = pulumi.Config()\n"
        "toy = Toy('t', open('label.txt').read().strip(), kind=config.require('kind'))\n"
        "pulumi.export('token', config.require_secret('token'))\n"
        "pulumi.export('label', toy.label)\n"
    )
    store = ToyStore(tmp_path / "remote.json")
    engine = Engine(
        project,
        project="dirprog",
        stack="dev",
        config={"dirprog:kind": "fancy", "dirprog:token": TOKEN},
        secret_keys={"dirprog:token"},
        state_path=tmp_path / "state.json",
        # The user's shell: the toy provider is importable from this checkout.
        env={STORE_ENV: str(store.path), "PYTHONPATH": str(REPO_ROOT)},
    )
    result = engine.up()
    assert result.outputs["label"] == "from-a-file"
    assert is_secret(result.outputs["token"])
    (toy,) = store.objects().values()
    assert toy["kind"] == "fancy"
    assert_no_plaintext((TOKEN,), engine.all_text())


def test_up_expecting_no_changes_fails_before_applying(make_stack: Callable[..., Stack]) -> None:
    toys = make_stack({"a": {"label": "one"}})
    with pytest.raises(EngineError, match="changes were proposed"):
        toys.engine.up(expect_no_changes=True)
    assert toys.store.calls("create") == [] and toys.engine.load() == {}


def test_a_same_step_keeps_the_old_outputs_and_provider(make_stack: Callable[..., Stack]) -> None:
    toys = make_stack({"a": {"label": "one"}})
    toys.engine.up()
    old = next(iter(toys.engine.load().values()))

    # A new pickled provider and an input the toy's diff ignores: DIFF_NONE.
    toys.spec["a"].update(provider_note="v2", sleep=0.01)
    result = toys.engine.up()

    assert result.ops() == {"a": "same"}
    (diff,) = result.calls_to("Diff")
    assert diff.answer["changes"] == "none"
    a = next(iter(toys.engine.load().values()))
    assert a.inputs["sleep"] == 0.01 and "sleep" not in a.outputs
    assert strip_secrets(a.inputs["__provider"]) != strip_secrets(a.outputs["__provider"])
    assert a.outputs == old.outputs


def test_diff_unknown_is_decided_by_the_engine(make_stack: Callable[..., Stack]) -> None:
    toys = make_stack({"a": {"label": "one", "engine_diff": True, "data": {"k": 1}}})
    toys.engine.up()
    assert toys.engine.up(expect_no_changes=True).ops() == {"a": "same"}

    toys.spec["a"]["label"] = "two"
    result = toys.engine.up()
    assert result.calls_to("Diff")[0].answer["changes"] == "unknown"
    assert result.ops() == {"a": "update"} and result.step("a").diffs == ["label"]

    toys.spec["a"].update(label="three", replace_on=["label"])
    result = toys.engine.up()
    assert result.ops() == {"a": "replace"} and result.step("a").replaces == ["label"]

    # ignore_changes resets the property to its old input before Check.
    toys.spec["a"].update(data={"k": 2}, ignore=["data"])
    result = toys.engine.up()
    assert result.ops() == {"a": "same"}
    assert result.calls_to("Check")[0].args["news"]["data"] == {"k": 1}

    # A nested path ignores that value only; the rest of the object still changes.
    toys.spec["a"].update(data={"k": 3, "j": 1}, ignore=["data.k"])
    result = toys.engine.up()
    assert result.ops() == {"a": "update"}
    assert result.calls_to("Check")[0].args["news"]["data"] == {"k": 1, "j": 1}


def test_a_failed_delete_of_a_replaced_object_is_retried_later(
    make_stack: Callable[..., Stack],
) -> None:
    toys = make_stack({"a": {"label": "one"}})
    toys.engine.up()
    old_id = toys.ids()["a"]
    toys.store.change(lambda doc: doc.update(refuse_delete=[old_id]))

    toys.spec["a"]["kind"] = "fancy"
    with pytest.raises(EngineError, match="refused by the remote side"):
        toys.engine.up()
    snapshot = toys.engine.snapshot()
    assert [r.id for r in snapshot.pending_deletes()] == [old_id]
    new_id = toys.ids()["a"]
    assert new_id != old_id

    toys.store.change(lambda doc: doc.update(refuse_delete=[]))
    result = toys.engine.up()
    assert result.ops() == {"a": "same"}
    assert [s.op for s in result.steps] == ["same", "delete-replaced"]
    assert [c.id for c in result.calls_to("Delete")] == [old_id]
    assert toys.engine.snapshot().pending_deletes() == []
    assert set(toys.store.objects()) == {new_id}


def test_import_fails_for_dynamic_resources_as_with_the_cli(
    make_stack: Callable[..., Stack],
) -> None:
    owner = make_stack({"a": {"label": "one"}}, stack="owner")
    owner.engine.up()
    importer = make_stack({"a": {"label": "one", "import_": owner.ids()["a"]}}, stack="importer")

    # The engine's import Read carries no properties: no `__provider` to unpickle (#16175).
    with pytest.raises(EngineError, match="KeyError: '__provider'") as failed:
        importer.engine.preview()
    assert failed.value.result is not None
    (read,) = failed.value.result.calls_to("Read")
    assert read.args == {"properties": {}, "inputs": {}}
