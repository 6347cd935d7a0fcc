"""What the real Pulumi CLI does that a belief-built harness got wrong, one test per rule.

Each rule is one the engine's source states (the harness cites file and function):
the program and plugin run in the ``main:`` directory and must find the same venv; the
preview counts the Stack; refresh and destroy run without the program, configured from the
config recorded in state; that config is stored in state; looked-up resources refresh on
their outputs alone; every installed plugin package is a required plugin.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mms_pulumi import Service
from mms_pulumi.account import (
    EMULATOR_HOSTING_ACCOUNT,
    EMULATOR_RESOURCE_GROUP,
    EMULATOR_SUBSCRIPTION_ID,
)
from mms_pulumi.client import MmsClient
from mms_pulumi.emulator.process import EmulatorProcess, emulator_health
from tests.harness import Engine, EngineError, assert_no_plaintext
from tests.harness.plugin import unwrap
from tests.harness.project import PluginLaunchError, Project, plugin_launch, required_plugins
from tests.support import account_config, free_port, kube_config, stop_emulators_on

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "examples" / "quickstart"
QUICKSTART_PYTHON = str(QUICKSTART / ".venv" / "bin" / "python")
PROJECTS = sorted(
    path.parent
    for path in ROOT.rglob("Pulumi.yaml")
    if ".venv" not in path.parts and ".pulumi-state" not in path.parts
)
TOKEN = "rules-token-5e1d"


def _shell_of_scripts_pulumi(tmp_path: Path) -> dict[str, str]:
    """The environment ``scripts/pulumi`` hands the CLI, read by running it with a stand-in
    ``pulumi`` (named by ``MMS_PULUMI_BIN``) that records its environment (the script itself
    runs unchanged)."""
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    record = tmp_path / "env.txt"
    (fake_bin / "pulumi").write_text(
        f'#!/bin/sh\n[ "$1" = version ] && {{ echo v3.274.1; exit 0; }}\nenv > "{record}"\n'
    )
    (fake_bin / "pulumi").chmod(0o755)
    env = {**os.environ, "MMS_PULUMI_BIN": str(fake_bin)}
    env["PULUMI_BACKEND_URL"] = (tmp_path / "state").as_uri()
    subprocess.run([ROOT / "scripts" / "pulumi", "preview"], env=env, check=True, timeout=600)
    return dict(line.split("=", 1) for line in record.read_text().splitlines() if "=" in line)


# --- 1. one venv for the program and the plugin -------------------------------------------


@pytest.mark.parametrize("root", PROJECTS, ids=[str(p.relative_to(ROOT)) for p in PROJECTS])
def test_every_project_runs_its_program_and_plugin_with_one_interpreter(
    root: Path, tmp_path: Path
) -> None:
    project = Project.load(root)
    # The root project is run through scripts/pulumi; an example from its own directory.
    shell = _shell_of_scripts_pulumi(tmp_path) if root == ROOT else dict(os.environ)
    program_python = project.language_host_python(shell)
    command, _ = plugin_launch(project.pwd, {**shell, **project.runtime_env()})
    assert command[0] == program_python, (
        f"{root}/Pulumi.yaml: the program runs {program_python}, the plugin {command[0]}"
    )
    assert os.path.isfile(program_python), f"{program_python} missing: run scripts/bootstrap"


def test_a_virtualenv_relative_to_the_root_is_not_found_by_the_plugin(tmp_path: Path) -> None:
    """Why the root Pulumi.yaml has no ``virtualenv``: the launch script looks in ``main:``."""
    (tmp_path / "app").mkdir()
    (tmp_path / "Pulumi.yaml").write_text(
        "name: p\nmain: app/\nruntime: {name: python, options: {virtualenv: .venv}}\n"
    )
    shutil.copytree(QUICKSTART / ".venv", tmp_path / ".venv", symlinks=True)
    project = Project.load(tmp_path)
    assert project.language_host_python({}) == str(tmp_path / ".venv" / "bin" / "python")
    with pytest.raises(PluginLaunchError, match=r"app/\.venv.*doesn't exist"):
        plugin_launch(project.pwd, project.runtime_env())


# --- 6. each example asks for exactly the plugins it uses -----------------------------------


@pytest.mark.parametrize(
    ("example", "plugins"), [("quickstart", set()), ("kubernetes", {"kubernetes"})]
)
def test_each_example_venv_holds_only_the_plugins_its_program_uses(
    example: str, plugins: set[str]
) -> None:
    project = Project.load(ROOT / "examples" / example)
    required = required_plugins(project.language_host_python(dict(os.environ)))
    assert set(required) == plugins


# --- 2, 3b, 7: the root project, the Stack counted, the emulator brought back -------------


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """The root project and the quickstart, copied (not the venv): the real layout."""
    copy = tmp_path / "repo"
    (copy / "examples").mkdir(parents=True)
    shutil.copy(ROOT / "Pulumi.yaml", copy / "Pulumi.yaml")
    shutil.copytree(QUICKSTART, copy / "examples" / "quickstart", ignore=_ignored)
    return copy


def _ignored(_directory: str, names: list[str]) -> set[str]:
    return {n for n in names if n in (".venv", ".mms-emulator", "__pycache__")}


@pytest.mark.timeout(300)
def test_root_project_counts_the_stack_and_refresh_destroy_restart_the_recorded_emulator(
    repo_copy: Path, tmp_path: Path
) -> None:
    port = free_port()
    engine = Engine(
        repo_copy,
        project="mms-quickstart",
        stack="dev",
        config={"mms:emulatorPort": str(port), "mms:emulatorOperationSeconds": "0.1"},
        state_path=tmp_path / "state.json",
        env={"PULUMI_PYTHON_CMD": QUICKSTART_PYTHON},
    )
    try:
        preview = engine.preview()
        # `+ 5 to create`: the Stack and four MMS resources; the default provider is internal.
        assert preview.counts() == {"create": 5}
        engine.up()
        assert engine.current_plugin is not None
        assert engine.current_plugin.cwd == repo_copy / "examples" / "quickstart"
        # The data directory is the project root's, not the main: directory's.
        health = emulator_health(f"http://127.0.0.1:{port}")
        assert health is not None
        assert Path(str(health.data_dir)) == repo_copy / ".mms-emulator"
        state = json.loads(engine.state.text())
        types = [r["type"] for r in state["deployment"]["resources"]]
        assert types[:2] == ["pulumi:pulumi:Stack", "pulumi:providers:pulumi-python"]
        assert engine.up(expect_no_changes=True).counts() == {"same": 5}

        stop_emulators_on(port)  # a reboot: nothing runs the program before refresh
        refreshed = engine.refresh(expect_no_changes=True)
        assert refreshed.counts() == {"same": 5}
        assert emulator_health(f"http://127.0.0.1:{port}") is not None
        stop_emulators_on(port)
        destroyed = engine.destroy()
        assert destroyed.counts() == {"delete": 5}
        with MmsClient(
            f"http://127.0.0.1:{port}",
            EMULATOR_SUBSCRIPTION_ID,
            EMULATOR_RESOURCE_GROUP,
            EMULATOR_HOSTING_ACCOUNT,
            "any",
        ) as mms:
            assert mms.list_services() == []
    finally:
        stop_emulators_on(port)


# --- 3a, 4: the config recorded in state ------------------------------------------------------


pytestmark = pytest.mark.emulator(operation_seconds=0.1, token=TOKEN)


def _quickstart(emulator: EmulatorProcess, tmp_path: Path, **config: str) -> Engine:
    return Engine(
        QUICKSTART,
        project="mms-quickstart",
        stack="test",
        # An account of its own per test: the module's emulator is shared.
        config={**account_config(emulator.base_url, tmp_path.name[:30]), **config},
        state_path=tmp_path / "state.json",
    )


def test_a_plaintext_token_is_stored_in_state_and_warned_about_once(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    engine = _quickstart(emulator, tmp_path, **{"mms:token": TOKEN})
    plan = engine.preview()
    warnings = [line for line in plan.diagnostics if "mms:token is set in plaintext" in line]
    assert len(warnings) == 1
    engine.up()
    # The engine records the whole stack config as the default provider's inputs.
    assert TOKEN in engine.state.text()

    engine.secret_keys = {"mms:token"}
    quiet = engine.up(expect_no_changes=True)
    assert not any("plaintext" in line for line in quiet.diagnostics)
    assert_no_plaintext([TOKEN], engine.state.text())
    engine.destroy()


@pytest.mark.timeout(240)
def test_refresh_and_destroy_use_the_token_recorded_by_the_last_up(
    tmp_path: Path,
) -> None:
    port = free_port()
    data = tmp_path / "emulator"
    old, new = "rotated-old-1", "rotated-new-2"
    with EmulatorProcess(data, 0.1, ["--token", old], port=port) as first:
        engine = _quickstart(first, tmp_path, **{"mms:token": old})
        engine.secret_keys = {"mms:token"}
        engine.up()
    with EmulatorProcess(data, 0.1, ["--token", new], port=port):
        engine.config["mms:token"] = new  # `pulumi config set --secret mms:token ...`
        with pytest.raises(EngineError) as raised:
            engine.refresh()
        assert "401" in str(raised.value) or "Authentication" in str(raised.value)
        assert "run `pulumi up` first or add `--run-program`" in str(raised.value)
        engine.up()  # records the rotated token
        engine.refresh(expect_no_changes=True)
        engine.destroy()
        assert_no_plaintext([old, new], engine.all_text())


# --- 5. looked-up resources refresh on their outputs alone ----------------------------------


@pytest.mark.timeout(240)
def test_refreshing_a_looked_up_service_compares_outputs_only(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    with MmsClient(emulator.base_url, "sub", "rg", "rules", TOKEN) as mms:
        first, second = _two_images(mms)
        service = mms.begin_create_service(
            {
                "name": "looked-up",
                "image_id": first,
                "kube_config": kube_config("rules-kube"),
                "acr_image_pull_secret": "pull",
            }
        ).result(timeout=60)

        def program() -> dict[str, Any]:
            found = Service.get("found", service.id)
            return {"image": found.image_id}

        engine = Engine(
            program,
            project="lookup",
            stack="rules",
            config=account_config(emulator.base_url, "rules", TOKEN),
            secret_keys={"mms:token"},
            state_path=tmp_path / "lookup.json",
        )
        engine.up()
        unchanged = engine.refresh(expect_no_changes=True)
        assert unchanged.ops() == {"found": "same"}
        assert unchanged.calls_to("Diff") == []

        mms.begin_update_service(
            service.id, {"image_id": second, "acr_image_pull_secret": "pull"}
        ).result(timeout=60)
        changed = engine.refresh()
        assert changed.ops() == {"found": "update"}
        assert "image_id" in changed.step("found").diffs
        assert changed.calls_to("Diff") == []
        (found,) = engine.load().values()
        assert unwrap(found.outputs["image_id"]) == second
        mms.delete_service(service.id)


def _two_images(mms: MmsClient) -> tuple[str, str]:
    model = mms.register_model(
        {"name": "rules", "url": (QUICKSTART / "churn-model.json").as_uri(), "mime_type": "a/b"}
    )
    images = []
    for description in ("first", "second"):
        manifest = mms.create_manifest(
            {
                "model_ids": [model.id],
                "model_type": "Registered",
                "driver_program": "score",
                "description": description,
                "assets": [
                    {"id": "score", "url": (QUICKSTART / "score.py").as_uri(), "mime_type": "x"}
                ],
                "target_runtime": {"runtime_type": "ScikitPython"},
            }
        )
        image = mms.begin_create_image(
            {
                "manifest_id": manifest.id,
                "image_type": "Docker",
                "registry_info": {"user": "u", "location": "acr.local", "password": "p"},
            }
        ).result(timeout=60)
        images.append(image.id)
    return images[0], images[1]


def test_scripts_pulumi_names_the_quickstart_venv(tmp_path: Path) -> None:
    shell = _shell_of_scripts_pulumi(tmp_path)
    assert shell["PULUMI_PYTHON_CMD"] == QUICKSTART_PYTHON
    assert "PULUMI_RUNTIME_VIRTUALENV" not in shell
