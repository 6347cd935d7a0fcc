"""Round trips through the real emulator, for every resource and both API generations: any
valid input set, created and read back, diffs empty, and a refresh followed by a preview is
clean.

The engine's order is played as ``pkg/resource/deploy/step_generator.go`` (``generateSteps``)
drives a provider: ``check(olds=recorded inputs, news=program inputs)``, then
``diff(olds=recorded outputs, news=checked inputs)``; a refresh (``refresh.go``) replaces the
recorded outputs and inputs with what ``read`` returns. Inputs are drawn from wide strategies
and kept when ``check`` accepts them, so "valid" is the provider's own definition.
"""

from __future__ import annotations

import string
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mms_pulumi.emulator.process import EmulatorProcess
from mms_pulumi.resources import ImageProvider, ManifestProvider, ModelProvider, ServiceProvider
from mms_pulumi.resources._base import MmsProvider
from mms_pulumi.schema import API_VERSION, API_VERSION_2017_09, RuntimeType
from tests.harness.plugin import unwrap
from tests.support import kube_config

pytestmark = pytest.mark.emulator(operation_seconds=0.02)

GENERATIONS = (API_VERSION, API_VERSION_2017_09)
COMPUTE = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningCompute/c"
DRIVER = "def init():\n    pass\n\n\ndef run(data):\n    return data\n"

# Cheap objects (no process, no build): many examples; images and services: a few each.
MANY = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
FEW = settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

names = st.text(alphabet=string.ascii_letters + string.digits + "-._", min_size=1, max_size=20)
words = st.text(alphabet=string.ascii_letters + string.digits + "-", min_size=1, max_size=12)
# Descriptions are user text: any printable character, the rule's edges included.
texts = st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc", "Zl", "Zp"]), max_size=40)
optional = st.one_of(st.none(), st.just(True))  # whether an optional input is given at all


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """URLs of a model file and a driver the emulator can fetch."""
    root = tmp_path_factory.mktemp("round-trip-files")
    (root / "model.json").write_text('{"w": 1}')
    (root / "score.py").write_text(DRIVER)
    (root / "requirements.txt").write_text("")
    return {name: (root / name).as_uri() for name in ("model.json", "score.py", "requirements.txt")}


def account(emulator: EmulatorProcess, api_version: str) -> dict[str, str]:
    return {
        "endpoint": emulator.base_url,
        "subscription_id": "round-trip",
        "resource_group": "rg",
        "hosting_account": "rt",
        "api_version": api_version,
    }


def as_sent(value: Any) -> Any:
    """A value as the engine hands it to the provider: secrets unwrapped (the plugin's
    ``deserialize_properties``) and every number a float (a protobuf ``Struct``)."""
    value = unwrap(value)
    if isinstance(value, dict):
        return {key: as_sent(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_sent(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def round_trip(provider: MmsProvider, program: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Create from ``program``'s inputs and check every later step plans nothing; the
    created id and outputs."""
    program = as_sent(program)
    checked = provider.check(None, program)
    assume(not checked.failures)
    recorded_inputs = as_sent(checked.inputs)
    created = provider.create(recorded_inputs)
    outputs = as_sent(created.outs or {})

    # `pulumi up` again, nothing changed: check against the recorded inputs, diff the outputs.
    again = provider.check(recorded_inputs, program)
    assert not again.failures
    plan = provider.diff(created.id, outputs, as_sent(again.inputs))
    assert not plan.changes, f"an unchanged program plans {plan.replaces or 'an update'}"

    # `pulumi refresh`: read what lives; then `pulumi preview` must still plan nothing.
    read = provider.read(created.id, outputs)
    assert read.id == created.id
    refreshed_outputs, refreshed_inputs = as_sent(read.outs or {}), as_sent(read.inputs or {})
    for name, value in recorded_inputs.items():
        if name in refreshed_inputs:
            assert refreshed_inputs[name] == value, f"{name} reads back as another value"
    after = provider.check(refreshed_inputs, program)
    assert not after.failures
    plan = provider.diff(created.id, refreshed_outputs, as_sent(after.inputs))
    assert not plan.changes, (
        f"a preview after refresh plans a change: {sorted(set(plan.replaces or []))} replace; "
        f"recorded {refreshed_outputs}, checked {after.inputs}"
    )
    return created.id, outputs


def model_inputs(draw: st.DrawFn, emulator: EmulatorProcess, api: str, url: str) -> dict[str, Any]:
    inputs: dict[str, Any] = {
        "name": draw(names),
        "url": url,
        "mime_type": draw(st.sampled_from(["application/json", "text/plain", "x"])),
        "account": account(emulator, api),
    }
    if draw(optional):
        inputs["description"] = draw(texts)
    if draw(optional):
        tag = st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=10)
        inputs["tags"] = draw(st.lists(tag if api == API_VERSION else words, max_size=3))
    if draw(optional):
        inputs["unpack"] = False
    return inputs


@pytest.fixture(scope="module")
def models(emulator: EmulatorProcess, files: dict[str, str]) -> dict[str, str]:
    """A registered model per generation, for the manifests."""
    created = {}
    for api in GENERATIONS:
        props = ModelProvider().check(
            None,
            {
                "name": "base",
                "url": files["model.json"],
                "mime_type": "application/json",
                "account": account(emulator, api),
            },
        )
        created[api] = ModelProvider().create(dict(props.inputs)).id
    return created


@pytest.mark.parametrize("api", GENERATIONS)
@MANY
@given(data=st.data())
def test_a_model_reads_back_as_created(
    emulator: EmulatorProcess, files: dict[str, str], api: str, data: st.DataObject
) -> None:
    inputs = data.draw(
        st.composite(lambda d: model_inputs(d, emulator, api, files["model.json"]))()
    )
    round_trip(ModelProvider(), inputs)


def manifest_inputs(
    draw: st.DrawFn, emulator: EmulatorProcess, api: str, files: dict[str, str], model_id: str
) -> dict[str, Any]:
    runtimes = [kind.value for kind in RuntimeType] if api == API_VERSION else ["Python"]
    runtime: dict[str, Any] = {"runtime_type": draw(st.sampled_from(runtimes))}
    properties = draw(st.sampled_from([None, {}, {"pip_requirements": files["requirements.txt"]}]))
    if properties is not None:
        runtime["properties"] = properties
    assets = [{"id": "score", "url": files["score.py"], "mime_type": "text/x-python"}]
    if draw(optional):
        assets.append({"id": draw(names), "url": files["model.json"], "mime_type": "x"})
    inputs: dict[str, Any] = {
        "model_ids": [model_id],
        "assets": assets,
        "target_runtime": runtime,
        "account": account(emulator, api),
    }
    if api == API_VERSION_2017_09 or draw(optional):
        inputs["driver_program"] = "score"
    if api == API_VERSION_2017_09 or draw(optional):
        inputs["name"] = draw(names)
    if draw(optional):
        inputs["description"] = draw(texts)
    return inputs


@pytest.mark.parametrize("api", GENERATIONS)
@MANY
@given(data=st.data())
def test_a_manifest_reads_back_as_created(
    emulator: EmulatorProcess,
    files: dict[str, str],
    models: dict[str, str],
    api: str,
    data: st.DataObject,
) -> None:
    draw = st.composite(lambda d: manifest_inputs(d, emulator, api, files, models[api]))
    round_trip(ManifestProvider(), data.draw(draw()))


@pytest.fixture(scope="module")
def manifests(
    emulator: EmulatorProcess, files: dict[str, str], models: dict[str, str]
) -> dict[str, str]:
    """A manifest per generation, for the images."""
    created = {}
    for api in GENERATIONS:
        props = ManifestProvider().check(
            None,
            {
                "name": "base",
                "model_ids": [models[api]],
                "driver_program": "score",
                "assets": [{"id": "score", "url": files["score.py"], "mime_type": "x"}],
                "target_runtime": {"runtime_type": "Python" if api != API_VERSION else "TLC"},
                "account": account(emulator, api),
            },
        )
        assert not props.failures, props.failures
        created[api] = ManifestProvider().create(dict(props.inputs)).id
    return created


def image_inputs(
    draw: st.DrawFn, emulator: EmulatorProcess, api: str, manifest_id: str
) -> dict[str, Any]:
    inputs: dict[str, Any] = {"manifest_id": manifest_id, "account": account(emulator, api)}
    if api == API_VERSION:
        inputs["registry_info"] = {"user": draw(words), "location": "r.io", "password": "pw-1"}
    else:
        inputs["name"] = draw(names)
        inputs["compute_resource_id"] = COMPUTE
    if draw(optional):
        inputs["image_type"] = "Docker"
    if draw(optional):
        inputs["description"] = draw(texts)
    return inputs


@pytest.mark.parametrize("api", GENERATIONS)
@FEW
@given(data=st.data())
def test_an_image_reads_back_as_created(
    emulator: EmulatorProcess, manifests: dict[str, str], api: str, data: st.DataObject
) -> None:
    draw = st.composite(lambda d: image_inputs(d, emulator, api, manifests[api]))
    round_trip(ImageProvider(), data.draw(draw()))


@pytest.fixture(scope="module")
def images(emulator: EmulatorProcess, manifests: dict[str, str]) -> Iterator[dict[str, str]]:
    """An image per generation, for the services."""
    created = {}
    for api in GENERATIONS:
        inputs = image_inputs_fixed(emulator, api, manifests[api])
        props = ImageProvider().check(None, inputs)
        assert not props.failures, props.failures
        created[api] = ImageProvider().create(dict(props.inputs)).id
    yield created


def image_inputs_fixed(emulator: EmulatorProcess, api: str, manifest_id: str) -> dict[str, Any]:
    inputs: dict[str, Any] = {"manifest_id": manifest_id, "account": account(emulator, api)}
    if api == API_VERSION:
        inputs["registry_info"] = {"user": "u", "location": "r.io", "password": "pw-1"}
    else:
        inputs |= {"name": "base", "compute_resource_id": COMPUTE}
    return inputs


def service_inputs(
    draw: st.DrawFn, emulator: EmulatorProcess, api: str, image_id: str
) -> dict[str, Any]:
    inputs: dict[str, Any] = {
        "name": draw(st.text(alphabet=string.ascii_lowercase, min_size=3, max_size=12)),
        "image_id": image_id,
        "account": account(emulator, api),
    }
    if api == API_VERSION:
        inputs["kube_config"] = kube_config("round-trip-token")
        inputs["acr_image_pull_secret"] = draw(words)
        return inputs
    inputs["compute_resource"] = {"id": COMPUTE, **draw(st.sampled_from([{}, {"type": "Cluster"}]))}
    scaling = draw(st.sampled_from(["replicas", "autoscaler", "neither"]))
    if scaling == "replicas":
        inputs["num_replicas"] = draw(st.integers(min_value=1, max_value=2))
    elif scaling == "autoscaler":
        inputs["autoscaler"] = draw(
            st.sampled_from(
                [
                    {"autoscale_enabled": True, "min_replicas": 1, "max_replicas": 2},
                    {"autoscale_enabled": False},
                    {},
                ]
            )
        )
    if draw(optional):
        inputs["container_resource_reservation"] = draw(
            st.sampled_from([{}, {"cpu": "0.1"}, {"cpu": "0.1", "memory": "1Gi"}])
        )
    if draw(optional):
        inputs["max_concurrent_requests_per_container"] = draw(st.integers(1, 8))
    if draw(optional):
        inputs["app_insights_enabled"] = draw(st.booleans())
    if draw(optional):
        inputs["data_collection"] = draw(
            st.sampled_from([{}, {"storage_enabled": True}, {"event_hub_enabled": False}])
        )
    return inputs


@pytest.mark.parametrize("api", GENERATIONS)
@FEW
@given(data=st.data())
def test_a_service_reads_back_as_created(
    emulator: EmulatorProcess, images: dict[str, str], api: str, data: st.DataObject
) -> None:
    draw = st.composite(lambda d: service_inputs(d, emulator, api, images[api]))
    provider = ServiceProvider()
    id_, outputs = round_trip(provider, data.draw(draw()))
    provider.delete(id_, outputs)  # names are unique per account: the next example may reuse it
