"""Each provider through the real plugin process, called as the engine calls it.

Configure, Check with and without unknowns, Diff, Create, Read, Update and Delete over
gRPC against the emulator on loopback.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pulumi.output import Unknown
from pulumi.runtime import rpc

from mms_pulumi.client import MmsClient
from mms_pulumi.emulator.process import EmulatorProcess
from mms_pulumi.resources import ImageProvider, ManifestProvider, ModelProvider, ServiceProvider
from tests.harness import PluginError, PluginProcess, serialized_provider
from tests.harness.plugin import unwrap
from tests.support import kube_config

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart"
TOKEN = "plugin-test-token-1"
PASSWORD = "plugin-registry-password"
KUBE_TOKEN = "plugin-kube-token"
KUBE = kube_config(KUBE_TOKEN, "https://k")
SECRETS = (TOKEN, PASSWORD, KUBE_TOKEN)


def urn(kind: str, name: str) -> str:
    return f"urn:pulumi:test::project::pulumi-python:dynamic/mms:{kind}::{name}"


pytestmark = pytest.mark.emulator(operation_seconds=0.3, token=TOKEN)


@pytest.fixture(scope="module")
def plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PluginProcess]:
    with PluginProcess(tmp_path_factory.mktemp("program")) as process:
        answer = process.configure(
            {"mms:token": TOKEN, "mms:operationTimeout": "60"}, secret_keys={"mms:token"}
        )
        assert answer.acceptSecrets is False and answer.supportsPreview is False
        yield process
        assert not any(secret in process.output for secret in SECRETS)


@pytest.fixture
def account(emulator: EmulatorProcess) -> dict[str, str]:
    return {
        "endpoint": emulator.base_url,
        "subscription_id": "sub",
        "resource_group": "rg",
        "hosting_account": f"acct-{uuid.uuid4().hex[:8]}",
        "api_version": "2017-06-01-privatepreview",
    }


class Chain:
    """Creates resources through the plugin the way `pulumi up` does: Check, then Create."""

    def __init__(self, plugin: PluginProcess, account: dict[str, str]) -> None:
        self.plugin = plugin
        self.account = account

    def props(self, provider: Any, **inputs: Any) -> dict[str, Any]:
        return {**inputs, "account": self.account, "__provider": serialized_provider(provider)}

    def create(
        self, kind: str, provider: Any, resource: str, /, **inputs: Any
    ) -> tuple[str, dict[str, Any], dict[str, Any]]:
        checked, failures = self.plugin.check(
            urn(kind, resource), {}, self.props(provider, **inputs)
        )
        assert failures == []
        ident, outs = self.plugin.create(urn(kind, resource), checked)
        assert ident
        return ident, outs, checked

    def model(self, name: str = "churn") -> tuple[str, dict[str, Any], dict[str, Any]]:
        return self.create(
            "Model",
            ModelProvider(),
            name,
            name=name,
            url=(QUICKSTART / "churn-model.json").as_uri(),
            mime_type="application/json",
        )

    def manifest(self, model_id: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
        return self.create(
            "Manifest",
            ManifestProvider(),
            "manifest",
            model_ids=[model_id],
            driver_program="score",
            assets=[
                {
                    "id": "score",
                    "url": (QUICKSTART / "score.py").as_uri(),
                    "mime_type": "application/x-python",
                }
            ],
            target_runtime={"runtime_type": "ScikitPython", "properties": {}},
        )

    def image(
        self, manifest_id: str, description: str = ""
    ) -> tuple[str, dict[str, Any], dict[str, Any]]:
        return self.create(
            "Image",
            ImageProvider(),
            "image",
            manifest_id=manifest_id,
            description=description,
            registry_info={"user": "acr", "location": "acr.local", "password": PASSWORD},
        )

    def service_inputs(self, image_id: str, manifest_id: str, **extra: Any) -> dict[str, Any]:
        inputs = {
            "name": "churn-svc",
            "image_id": image_id,
            "manifest_id": manifest_id,
            "kube_config": KUBE,
            "acr_image_pull_secret": "acr-pull",
            **extra,
        }
        return self.props(ServiceProvider(), **inputs)


@pytest.fixture
def chain(plugin: PluginProcess, account: dict[str, str]) -> Chain:
    return Chain(plugin, account)


def client_for(account: dict[str, str]) -> MmsClient:
    return MmsClient(account["endpoint"], "sub", "rg", account["hosting_account"], TOKEN)


def test_check_reports_failures_before_anything_is_created(
    chain: Chain, plugin: PluginProcess
) -> None:
    _, failures = plugin.check(
        urn("Model", "bad"),
        {},
        chain.props(ModelProvider(), name="bad name", url="", mime_type="a/b", tags=["x-y"]),
    )
    assert dict(failures) == {
        "name": "model name must contain only letters, digits, hyphens, dots and underscores",
        "url": "model url must not be empty",
        "tags[0]": "model tags[0] must contain only letters and digits",
    }
    with client_for(chain.account) as mms:
        assert mms.list_models() == []


def test_check_passes_unknowns_through(chain: Chain, plugin: PluginProcess) -> None:
    news = chain.service_inputs(rpc.UNKNOWN, rpc.UNKNOWN)
    checked, failures = plugin.check(urn("Service", "s"), {}, news)
    assert failures == []
    assert isinstance(checked["image_id"], Unknown)
    news = chain.props(
        ManifestProvider(),
        model_ids=[rpc.UNKNOWN],
        assets=rpc.UNKNOWN,
        target_runtime={"runtime_type": "ScikitPython"},
    )
    assert plugin.check(urn("Manifest", "m"), {}, news)[1] == []


def test_full_lifecycle_through_the_plugin(chain: Chain, plugin: PluginProcess) -> None:
    model_id, model_outs, _ = chain.model()
    assert model_outs["version"] == 1 and model_outs["created_at"].endswith("Z")
    manifest_id, manifest_outs, _ = chain.manifest(model_id)
    assert manifest_outs["model_ids"] == [model_id]
    image_id, image_outs, _ = chain.image(manifest_id)
    assert rpc.is_rpc_secret(image_outs["registry_info"])
    assert image_outs["creation_state"] == "Succeeded"

    service_urn = urn("Service", "svc")
    checked, _ = plugin.check(service_urn, {}, chain.service_inputs(image_id, manifest_id))
    service_id, outs = plugin.create(service_urn, checked)
    assert rpc.is_rpc_secret(outs["kube_config"])
    assert outs["state"] == "Succeeded" and outs["scoring_uri"]
    plain_outs = unwrap(outs)

    # An unchanged program: Diff says no change, even though __provider is re-pickled.
    again, _ = plugin.check(service_urn, checked, chain.service_inputs(image_id, manifest_id))
    assert plugin.diff(service_id, service_urn, plain_outs, again).kind == "none"

    # Refresh: Read returns outputs and inputs; the engine's inverted Diff finds no drift.
    read_id, read_outs, read_inputs = plugin.read(service_id, service_urn, plain_outs, checked)
    assert read_id == service_id and read_inputs is not None
    assert unwrap(read_outs)["image_id"] == image_id
    drift = plugin.diff(service_id, service_urn, unwrap(read_outs), {**checked})
    assert drift.kind == "none"

    # A new image updates in place and Update returns every output.
    second_id, _, _ = chain.image(manifest_id, description="second")
    news, _ = plugin.check(service_urn, checked, chain.service_inputs(second_id, manifest_id))
    diff = plugin.diff(service_id, service_urn, plain_outs, news)
    assert (diff.kind, diff.replaces) == ("some", [])
    updated = unwrap(plugin.update(service_id, service_urn, plain_outs, news))
    assert updated["image_id"] == second_id
    assert set(updated) >= set(plain_outs) - {"__provider"}
    assert updated["updated_at"] >= plain_outs["updated_at"]

    # Renaming replaces it.
    renamed, _ = plugin.check(
        service_urn, {}, chain.service_inputs(second_id, manifest_id, name="svc2")
    )
    diff = plugin.diff(service_id, service_urn, updated, renamed)
    assert diff.replaces == ["name"] and not diff.delete_before_replace

    # Delete, then a refresh reports it deleted.
    plugin.delete(service_id, service_urn, updated)
    gone_id, gone_outs, _ = plugin.read(service_id, service_urn, updated, news)
    assert gone_id == "" and set(gone_outs) <= {"__provider"}
    plugin.delete(service_id, service_urn, updated)  # already gone: still fine

    # Models, manifests and images stay: delete says so and removes nothing.
    plugin.delete(image_id, urn("Image", "image"), unwrap(image_outs))
    with client_for(chain.account) as mms:
        assert mms.get_image(image_id).id == image_id
    assert "MMS has no delete for images" in plugin.output


def test_model_change_replaces_and_registers_a_new_version(
    chain: Chain, plugin: PluginProcess
) -> None:
    model_id, outs, checked = chain.model("versioned")
    news, _ = plugin.check(
        urn("Model", "versioned"),
        checked,
        {
            **chain.props(
                ModelProvider(),
                name="versioned",
                url=(QUICKSTART / "score.py").as_uri(),
                mime_type="application/json",
            )
        },
    )
    diff = plugin.diff(model_id, urn("Model", "versioned"), outs, news)
    assert (diff.kind, diff.replaces) == ("some", ["url"])
    # The engine's second Check on replace has empty olds; then Create.
    second, _ = plugin.check(urn("Model", "versioned"), {}, news)
    new_id, new_outs = plugin.create(urn("Model", "versioned"), second)
    assert new_id != model_id and new_outs["version"] == 2


def test_create_adopts_a_service_left_by_an_interrupted_run(
    chain: Chain, plugin: PluginProcess
) -> None:
    model_id, _, _ = chain.model()
    manifest_id, _, _ = chain.manifest(model_id)
    image_id, _, _ = chain.image(manifest_id)
    with client_for(chain.account) as mms:
        poller = mms.begin_create_service(
            {
                "name": "churn-svc",
                "image_id": image_id,
                "kube_config": json.dumps({"kind": "Config", "clusters": []}),
                "acr_image_pull_secret": "acr-pull",
            }
        )
        existing = poller.result(timeout=30)
    checked, _ = plugin.check(
        urn("Service", "svc"), {}, chain.service_inputs(image_id, manifest_id)
    )
    adopted_id, _ = plugin.create(urn("Service", "svc"), checked)
    assert adopted_id == existing.id
    assert "adopting existing service" in plugin.output
    with client_for(chain.account) as mms:
        assert len(mms.list_services(name="churn-svc")) == 1


def test_create_refuses_a_foreign_service_of_the_same_name(
    chain: Chain, plugin: PluginProcess
) -> None:
    model_id, _, _ = chain.model()
    manifest_id, _, _ = chain.manifest(model_id)
    first, _, _ = chain.image(manifest_id)
    second, _, _ = chain.image(manifest_id, description="second")
    with client_for(chain.account) as mms:
        mms.begin_create_service(
            {
                "name": "churn-svc",
                "image_id": first,
                "kube_config": json.dumps({"kind": "Config", "clusters": []}),
                "acr_image_pull_secret": "p",
            }
        ).result(timeout=30)
    checked, _ = plugin.check(urn("Service", "svc"), {}, chain.service_inputs(second, manifest_id))
    with pytest.raises(PluginError, match="already exists") as refused:
        plugin.create(urn("Service", "svc"), checked)
    assert "Choose another name" in refused.value.details


def test_failed_image_build_names_the_operation_and_the_file(
    chain: Chain, plugin: PluginProcess
) -> None:
    model_id, _, _ = chain.create(
        "Model",
        ModelProvider(),
        "missing",
        name="missing",
        url="file:///nowhere/model.pkl",
        mime_type="application/octet-stream",
    )
    manifest_id, _, _ = chain.manifest(model_id)
    checked, _ = plugin.check(
        urn("Image", "img"),
        {},
        chain.props(
            ImageProvider(),
            manifest_id=manifest_id,
            registry_info={"user": "acr", "location": "acr.local", "password": PASSWORD},
        ),
    )
    with pytest.raises(PluginError) as failed:
        plugin.create(urn("Image", "img"), checked)
    message = failed.value.details
    assert "image build failed (operation" in message
    assert message.strip().splitlines()[-1].count("image build failed") == 1
    assert "/nowhere/model.pkl" in message
    assert PASSWORD not in message


def test_get_of_a_missing_object_fails_but_refresh_reports_deletion(
    chain: Chain, plugin: PluginProcess
) -> None:
    missing = str(uuid.uuid4())
    lookup = {
        "account": chain.account,
        "lookup_by_id": True,
        "__provider": serialized_provider(ModelProvider()),
    }
    with pytest.raises(PluginError, match=f"no model with id {missing}"):
        plugin.read(missing, urn("Model", "m"), lookup, lookup)
    refresh = {
        "account": chain.account,
        "name": "x",
        "version": 1,
        "__provider": serialized_provider(ModelProvider()),
    }
    assert plugin.read(missing, urn("Model", "m"), refresh, refresh)[0] == ""


def test_get_reads_an_existing_image_without_its_password(
    chain: Chain, plugin: PluginProcess
) -> None:
    model_id, _, _ = chain.model()
    manifest_id, _, _ = chain.manifest(model_id)
    image_id, _, _ = chain.image(manifest_id)
    lookup = {
        "account": chain.account,
        "lookup_by_id": True,
        "__provider": serialized_provider(ImageProvider()),
    }
    read_id, outs, _ = plugin.read(image_id, urn("Image", "got"), lookup, lookup)
    assert read_id == image_id
    assert unwrap(outs)["registry_info"] == {"user": "acr", "location": "acr.local"}
    assert unwrap(outs)["manifest_id"] == manifest_id


def test_identical_image_is_adopted_not_rebuilt(chain: Chain, plugin: PluginProcess) -> None:
    model_id, _, _ = chain.model()
    manifest_id, _, _ = chain.manifest(model_id)
    first, _, _ = chain.image(manifest_id)
    again, outs, _ = chain.image(manifest_id)
    assert again == first and outs["creation_state"] == "Succeeded"
    assert "adopting identical image" in plugin.output
    with client_for(chain.account) as mms:
        assert len(mms.list_images()) == 1


def test_killed_plugin_mid_create_leaves_no_duplicate(
    chain: Chain, emulator: EmulatorProcess, tmp_path: Path
) -> None:
    import threading
    import time

    model_id, _, _ = chain.model()
    manifest_id, _, _ = chain.manifest(model_id)
    image_id, _, _ = chain.image(manifest_id)
    doomed = PluginProcess(tmp_path)
    doomed.start()
    doomed.configure({"mms:token": TOKEN}, {"mms:token"})
    service_urn = urn("Service", "interrupted")
    inputs = chain.service_inputs(image_id, manifest_id, name="interrupted")
    checked, _ = doomed.check(service_urn, {}, inputs)
    attempt = threading.Thread(target=lambda: _ignore(lambda: doomed.create(service_urn, checked)))
    attempt.start()
    with client_for(chain.account) as mms:
        deadline = time.monotonic() + 20
        while not mms.list_services(name="interrupted") and time.monotonic() < deadline:
            time.sleep(0.01)
        doomed.kill()  # `pulumi up` interrupted while the deployment runs
        attempt.join()
        (left,) = mms.list_services(name="interrupted")
    with PluginProcess(tmp_path) as fresh:
        fresh.configure({"mms:token": TOKEN}, {"mms:token"})
        checked, _ = fresh.check(service_urn, {}, inputs)
        adopted, outs = fresh.create(service_urn, checked)
    assert adopted == left.id and outs["state"] == "Succeeded"
    with client_for(chain.account) as mms:
        assert len(mms.list_services(name="interrupted")) == 1


def _ignore(action: Any) -> None:
    with contextlib.suppress(PluginError):
        action()


def test_killed_plugin_mid_image_build_leaves_no_duplicate(
    chain: Chain, emulator: EmulatorProcess, tmp_path: Path
) -> None:
    import threading
    import time

    model_id, _, _ = chain.model()
    manifest_id, _, _ = chain.manifest(model_id)
    doomed = PluginProcess(tmp_path)
    doomed.start()
    doomed.configure({"mms:token": TOKEN}, {"mms:token"})
    image_urn = urn("Image", "interrupted")
    inputs = chain.props(
        ImageProvider(),
        manifest_id=manifest_id,
        registry_info={"user": "acr", "location": "acr.local", "password": PASSWORD},
    )
    checked, _ = doomed.check(image_urn, {}, inputs)
    attempt = threading.Thread(target=lambda: _ignore(lambda: doomed.create(image_urn, checked)))
    attempt.start()
    with client_for(chain.account) as mms:
        deadline = time.monotonic() + 20
        while not mms.list_images() and time.monotonic() < deadline:
            time.sleep(0.01)
        doomed.kill()  # `pulumi up` interrupted while the image builds
        attempt.join()
        (building,) = mms.list_images()
    with PluginProcess(tmp_path) as fresh:
        fresh.configure({"mms:token": TOKEN}, {"mms:token"})
        checked, _ = fresh.check(image_urn, {}, inputs)
        adopted, outs = fresh.create(image_urn, checked)
    assert adopted == building.id and outs["creation_state"] == "Succeeded"
    with client_for(chain.account) as mms:
        assert len(mms.list_images()) == 1
