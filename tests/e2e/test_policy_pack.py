"""The mms-pulumi policy pack, run by the real engine (``--policy-pack``) on the quickstart.

The quickstart's Service has no smoke test, so in a stack the pack counts as production it
is a violation; its stacks here are named ``e2e-…``, which the default ``prod*`` leaves
alone and a pack config of ``e2e-*`` does not.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest
import requests

from mms_pulumi.emulator.process import EmulatorProcess
from mms_pulumi.policy import PACK_DIR, PACK_EXECUTABLE
from scripts.pulumi_cli import Cli
from tests.e2e.conftest import StackFactory

pytestmark = pytest.mark.e2e


def _pack(cli: Cli) -> str:
    """With the Python language host the CLI runs the pack's directory; without it (the
    inline route), the pack's executable."""
    inline = cli.tools["MMS_PULUMI_ROUTE"] == "inline"
    return str(PACK_EXECUTABLE if inline else PACK_DIR)


SMOKE = "mms-smoke-test-in-production"
REPLICAS = "mms-replicas-in-production"
NAMING = "mms-model-naming"
REGISTRY = "mms-registry-allow-list"
CREDENTIALS = "mms-credentials-as-secrets"
TOKEN = "mms-token-as-secret"
LOCAL_FILES = "mms-local-files-need-the-emulator"
MESSAGE = "this Service has no smoke test: in a production stack every service must be scored"


def _config(tmp_path: Path, **policies: Mapping[str, object]) -> str:
    path = tmp_path / "policy-config.json"
    path.write_text(json.dumps(policies))
    return str(path)


def test_outside_production_the_pack_passes(stack: StackFactory) -> None:
    cli = stack("quickstart")
    result = cli.run("preview", "--policy-pack", _pack(cli))
    assert MESSAGE not in result.stdout + result.stderr


def test_a_production_service_without_a_smoke_test_fails_the_preview(
    stack: StackFactory, tmp_path: Path
) -> None:
    cli = stack("quickstart")
    config = _config(tmp_path, **{SMOKE: {"stacks": "e2e-*"}})
    result = cli.run(
        "preview", "--policy-pack", _pack(cli), "--policy-pack-config", config, check=False
    )
    output = result.stdout + result.stderr
    assert result.code != 0, output
    assert SMOKE in output and MESSAGE in output and "mandatory" in output


def test_an_advisory_level_warns_and_lets_the_preview_pass(
    stack: StackFactory, tmp_path: Path
) -> None:
    cli = stack("quickstart")
    config = _config(tmp_path, **{SMOKE: {"enforcementLevel": "advisory", "stacks": "e2e-*"}})
    result = cli.run("preview", "--policy-pack", _pack(cli), "--policy-pack-config", config)
    output = result.stdout + result.stderr
    assert SMOKE in output and MESSAGE in output and "advisory" in output


def test_a_mandatory_violation_stops_up_before_anything_is_created(
    stack: StackFactory, emulator: EmulatorProcess, tmp_path: Path
) -> None:
    cli = stack("quickstart")
    config = _config(tmp_path, **{SMOKE: {"stacks": "e2e-*"}})
    result = cli.run(
        "up", "--yes", "--policy-pack", _pack(cli), "--policy-pack-config", config, check=False
    )
    assert result.code != 0 and MESSAGE in result.stdout + result.stderr
    stats = requests.get(f"{emulator.base_url}/_emulator/stats", timeout=10).json()
    assert set(stats["objects"].values()) <= {0}, stats["objects"]


def test_a_production_2017_09_service_needs_the_configured_replicas(
    stack: StackFactory, tmp_path: Path
) -> None:
    cli = stack("replicas")  # two replicas
    two = _config(tmp_path, **{REPLICAS: {"stacks": "e2e-*"}})
    cli.run("preview", "--policy-pack", _pack(cli), "--policy-pack-config", two)
    three = _config(tmp_path, **{REPLICAS: {"stacks": "e2e-*", "minimum": 3}})
    result = cli.run(
        "preview", "--policy-pack", _pack(cli), "--policy-pack-config", three, check=False
    )
    output = result.stdout + result.stderr
    assert result.code != 0 and REPLICAS in output
    assert "this Service runs 2 replica(s): a production service needs at least 3" in output


def test_model_naming_is_advisory_and_configurable(stack: StackFactory, tmp_path: Path) -> None:
    cli = stack("quickstart")  # a model named "churn", tagged "quickstart"
    passing = cli.run("preview", "--policy-pack", _pack(cli))
    assert NAMING not in passing.stdout + passing.stderr
    capitals = _config(tmp_path, **{NAMING: {"namePattern": "^[A-Z][a-z]+$"}})
    result = cli.run("preview", "--policy-pack", _pack(cli), "--policy-pack-config", capitals)
    output = result.stdout + result.stderr
    assert NAMING in output and "advisory" in output
    assert "this Model's name 'churn', tag 'quickstart' do(es) not match" in output


def test_a_registry_off_the_allow_list_fails(stack: StackFactory, tmp_path: Path) -> None:
    cli = stack("quickstart")  # pushes to registry.local.invalid
    allowed = _config(tmp_path, **{REGISTRY: {"locations": ["*.local.invalid"]}})
    cli.run("preview", "--policy-pack", _pack(cli), "--policy-pack-config", allowed)
    corp = _config(tmp_path, **{REGISTRY: {"locations": ["acr.corp.example"]}})
    result = cli.run(
        "preview", "--policy-pack", _pack(cli), "--policy-pack-config", corp, check=False
    )
    output = result.stdout + result.stderr
    assert result.code != 0 and REGISTRY in output
    assert "this Image is pushed to 'registry.local.invalid', which is not on the" in output


def test_credentials_and_the_token_must_be_secrets(stack: StackFactory) -> None:
    secret = stack(
        "quickstart", secret__registryPassword="pw-e2e-1234", **{"secret__mms:token": "tok-e2e"}
    )
    passing = secret.run("preview", "--policy-pack", _pack(secret)).stdout
    assert CREDENTIALS not in passing and TOKEN not in passing
    plain = stack(
        "quickstart",
        plaintext__registryPassword="pw-e2e-1234",
        **{"plaintext__mms:token": "tok-e2e"},
    )
    result = plain.run("preview", "--policy-pack", _pack(plain), check=False)
    output = result.stdout + result.stderr
    assert result.code != 0, output
    assert CREDENTIALS in output and TOKEN in output
    assert "registry_info.password comes from stack config set in plain text" in output
    assert "mms:token is set in plain text" in output


def test_local_files_against_a_remote_endpoint_are_a_violation(stack: StackFactory) -> None:
    remote = stack(
        "quickstart",
        **{"mms:endpoint": "https://mms.example.invalid", "secret__mms:token": "tok-e2e"},
    )
    result = remote.run("preview", "--policy-pack", _pack(remote), check=False)
    output = result.stdout + result.stderr
    assert result.code != 0 and LOCAL_FILES in output
    assert "url point(s) at this machine's disk, and the account's endpoint" in output
    local = stack("quickstart")  # the same files against the local emulator
    assert LOCAL_FILES not in local.run("preview", "--policy-pack", _pack(local)).stdout


def test_a_disabled_policy_is_not_run(stack: StackFactory, tmp_path: Path) -> None:
    cli = stack("quickstart")
    off = _config(tmp_path, **{SMOKE: {"enforcementLevel": "disabled", "stacks": "e2e-*"}})
    result = cli.run("preview", "--policy-pack", _pack(cli), "--policy-pack-config", off)
    assert MESSAGE not in result.stdout + result.stderr
