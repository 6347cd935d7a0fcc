"""Every example through the real Pulumi CLI: the lifecycle a user drives, with the diff text
they see and the change summaries ``pulumi preview --json`` reports, checked exactly.

For each example: preview --diff, up, up --expect-no-changes, refresh --expect-no-changes, an
edit that updates in place, an edit that replaces, an out-of-band delete then refresh then
up, destroy. After each apply, ``stack export`` and ``stack output`` carry no plaintext
secret; after destroy, the emulator holds no service and runs no scoring process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from mms_pulumi.account import Account
from mms_pulumi.emulator.process import EmulatorProcess
from mms_pulumi.resources._base import client_for
from scripts.pulumi_cli import Cli
from tests.e2e.cli import change_summary, emulator_processes, ops_by_name
from tests.e2e.conftest import StackFactory
from tests.support import kube_config

pytestmark = pytest.mark.e2e

REGISTRY_SECRET = "e2e-registry-secret"
CLUSTER_TOKEN = "e2e-cluster-token"


@dataclass(frozen=True)
class Edit:
    """A config change, what the preview must plan for it and lines its --diff must show."""

    key: str
    value: str
    ops: dict[str, str]
    diff_lines: tuple[str, ...]


@dataclass(frozen=True)
class Example:
    name: str
    steps: int  # resources the first preview creates, the stack included
    service: str  # the Service resource's name
    in_place: Edit
    replace: Edit
    config: dict[str, str] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()


EXAMPLES = [
    Example(
        "quickstart",
        steps=5,
        service="churn-svc",
        config={
            "secret__registryPassword": REGISTRY_SECRET,
            "secret__kubeConfig": kube_config(CLUSTER_TOKEN),
        },
        secrets=(REGISTRY_SECRET, CLUSTER_TOKEN),
        in_place=Edit(
            "imagePullSecret",
            "other-pull",
            {"churn-svc": "update"},
            (
                "~ pulumi-python:dynamic/mms:Service: (update)",
                '~ acr_image_pull_secret: "acr-pull" => "other-pull"',
            ),
        ),
        # A new model registration: the manifest and image that name it are replaced too,
        # and the service rolls to the new image in place.
        replace=Edit(
            "modelDescription",
            "Churn, retrained",
            {
                "churn-model": "replace",
                "churn-manifest": "replace",
                "churn-image": "replace",
                "churn-svc": "update",
            },
            (
                "+-pulumi-python:dynamic/mms:Model: (replace)",
                '~ description: "Churn probability from tenure, charges, calls" => '
                '"Churn, retrained"',
                "~ pulumi-python:dynamic/mms:Service: (update)",
            ),
        ),
    ),
    Example(
        "one-call",
        steps=6,  # the stack, the Deployment component and its four children
        service="churn-service",
        config={"secret__registryPassword": REGISTRY_SECRET},
        secrets=(REGISTRY_SECRET,),
        in_place=Edit(
            "imagePullSecret",
            "other-pull",
            {"churn-service": "update"},
            ('~ acr_image_pull_secret: "acr-pull" => "other-pull"',),
        ),
        replace=Edit(
            "serviceName",
            "churn-two",
            {"churn-manifest": "replace", "churn-image": "replace", "churn-service": "replace"},
            (
                "+-pulumi-python:dynamic/mms:Service: (replace)",
                '~ name                 : "churn" => "churn-two"',
            ),
        ),
    ),
    Example(
        "replicas",
        steps=5,
        service="threshold-svc",
        in_place=Edit(
            "replicas",
            "3",
            {"threshold-svc": "update"},
            ("~ pulumi-python:dynamic/mms:Service: (update)", "~ num_replicas    : 2 => 3"),
        ),
        replace=Edit(
            "serviceName",
            "threshold-two",
            {"threshold-svc": "replace"},
            (
                "+-pulumi-python:dynamic/mms:Service: (replace)",
                '~ name            : "threshold" => "threshold-two"',
            ),
        ),
    ),
]


def planned(cli: Cli) -> dict[str, object]:
    digest: dict[str, object] = cli.json("preview")
    return digest


def assert_no_change(cli: Cli, steps: int) -> None:
    assert change_summary(planned(cli)) == {"same": steps}


def assert_no_plaintext(cli: Cli, secrets: tuple[str, ...]) -> None:
    exported = json.dumps(cli.exported())
    outputs = cli.run("stack", "output", "--json").stdout
    for secret in secrets:
        assert secret not in exported, f"{secret!r} in plaintext in `pulumi stack export`"
        assert secret not in outputs, f"{secret!r} in plaintext in `pulumi stack output`"
    # Keys are secret outputs: shown only when asked for.
    assert '"primary_key": "[secret]"' in outputs or "primary_key" not in outputs


def apply_edit(cli: Cli, edit: Edit, steps: int) -> None:
    cli.run("config", "set", edit.key, edit.value)
    shown = cli.run("preview", "--diff").stdout
    for line in edit.diff_lines:
        assert line in shown, f"{line!r} not in the diff:\n{shown}"
    digest = planned(cli)
    ops = {name: op for name, op in ops_by_name(digest).items() if op != "same"}
    assert ops == edit.ops
    expected: dict[str, int] = {"same": steps - len(edit.ops)}
    for op in edit.ops.values():
        expected[op] = expected.get(op, 0) + 1
    assert change_summary(digest) == expected
    cli.run("up", "--yes")
    assert_no_change(cli, steps)


def service_state(cli: Cli, name: str) -> dict[str, object]:
    for resource in cli.exported()["deployment"]["resources"]:
        if resource["urn"].endswith(f"::{name}"):
            state: dict[str, object] = resource
            return state
    raise AssertionError(f"{name} is not in the stack's state")


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda example: example.name)
def test_example_lifecycle(
    example: Example, stack: StackFactory, emulator: EmulatorProcess
) -> None:
    cli = stack(example.name, **example.config)

    shown = cli.run("preview", "--diff").stdout
    assert f"+ {example.steps} to create" in shown
    first = planned(cli)
    assert change_summary(first) == {"create": example.steps}
    assert set(ops_by_name(first).values()) == {"create"}

    cli.run("up", "--yes")
    assert_no_change(cli, example.steps)
    cli.run("up", "--yes", "--expect-no-changes")
    cli.run("refresh", "--yes", "--expect-no-changes")
    assert_no_plaintext(cli, example.secrets)
    kinds = [r["type"] for r in cli.exported()["deployment"]["resources"]]
    assert kinds.count("pulumi:pulumi:Stack") == 1
    assert kinds.count("pulumi:providers:pulumi-python") == 1

    apply_edit(cli, example.in_place, example.steps)
    apply_edit(cli, example.replace, example.steps)
    assert_no_plaintext(cli, example.secrets)

    # Out of band: someone deletes the service. refresh drops it; up deploys it again.
    service = service_state(cli, example.service)
    outputs = service["outputs"]
    assert isinstance(outputs, dict)
    client = client_for(Account.from_props(outputs["account"]), None)
    assert client.delete_service(str(service["id"]))
    refreshed = cli.run("refresh", "--yes").stdout
    assert "deleted" in refreshed, refreshed
    assert change_summary(planned(cli)) == {"create": 1, "same": example.steps - 1}
    cli.run("up", "--yes")
    assert_no_change(cli, example.steps)
    assert len(client.list_services()) == 1

    cli.run("destroy", "--yes")
    assert client.list_services() == []
    assert emulator_processes(emulator) == []
