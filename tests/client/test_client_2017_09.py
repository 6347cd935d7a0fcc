"""``MmsClient2017_09`` against the real emulator: the 2017-09 workflow end to end, with
the same retry and polling rules as the 2017-06 client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from mms_pulumi.client import MmsClient, MmsClient2017_09
from mms_pulumi.emulator.process import EmulatorProcess
from mms_pulumi.errors import ConflictError, NotFoundError
from mms_pulumi.schema import API_VERSION, API_VERSION_2017_09
from mms_pulumi.schema_2017_09 import Service2017_09

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart"
TOKEN = "client-09-token"
COMPUTE = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningCompute/x"

pytestmark = pytest.mark.emulator(operation_seconds=0.1, token=TOKEN)


@pytest.fixture
def mms(emulator: EmulatorProcess, request: pytest.FixtureRequest) -> Iterator[MmsClient2017_09]:
    with MmsClient2017_09(
        emulator.base_url,
        "sub",
        "rg",
        f"acct-{request.node.name[:24]}",
        TOKEN,
        polling_interval=0.05,
        retry_backoff_factor=0.01,
    ) as client:
        yield client


def test_each_client_speaks_one_generation() -> None:
    with pytest.raises(ValueError, match="use MmsClient2017_09"):
        MmsClient("http://127.0.0.1:9", "s", "r", "a", "t", api_version=API_VERSION_2017_09)
    with pytest.raises(ValueError, match="use MmsClient for it"):
        MmsClient2017_09("http://127.0.0.1:9", "s", "r", "a", "t", api_version=API_VERSION)
    with pytest.raises(ValueError, match="not one MMS had"):
        MmsClient("http://127.0.0.1:9", "s", "r", "a", "t", api_version="2018-01-01")


def test_the_2017_09_workflow(mms: MmsClient2017_09) -> None:
    model = mms.register_model(
        {"name": "churn", "url": (QUICKSTART / "churn-model.json").as_uri(), "mime_type": "a/b"}
    )
    manifest = mms.create_manifest(
        {
            "name": "churn",
            "driver_program": "score",
            "model_ids": [model.id],
            "assets": [
                {"id": "score", "url": (QUICKSTART / "score.py").as_uri(), "mime_type": "x"}
            ],
            "target_runtime": {"runtime_type": "Python", "properties": {}},
        }
    )
    assert manifest.version == 1 and mms.list_manifests(model_id=model.id) == [manifest]
    image = mms.begin_create_image(
        {
            "name": "churn-image",
            "manifest_id": manifest.id,
            "image_type": "Docker",
            "compute_resource_id": COMPUTE,
        }
    ).result(timeout=60)
    assert image.creation_state == "Succeeded" and image.manifest is not None
    assert [i.id for i in mms.list_images(manifest_name="churn")] == [image.id]
    create = {
        "name": "churn",
        "image_id": image.id,
        "compute_resource": {"id": COMPUTE},
        "num_replicas": 2,
    }
    service = mms.begin_create_service(create).result(timeout=60)
    assert service.num_replicas == 2 and service.image is not None
    assert service.image.id == image.id and [m.name for m in service.models] == ["churn"]
    with pytest.raises(ConflictError):
        mms.begin_create_service(create)
    keys = mms.get_service_keys(service.id)
    body = {"customers": [{"tenure_months": 3, "monthly_charges": 95.0, "support_calls": 4}]}
    assert service.scoring_uri is not None
    scored = requests.post(
        service.scoring_uri,
        json=body,
        headers={"Authorization": f"Bearer {keys.primary_key}"},
        timeout=30,
    )
    assert scored.status_code == 200, scored.text
    rotated = mms.regenerate_service_keys(service.id, "Secondary")
    assert rotated.primary_key == keys.primary_key and rotated.secondary_key != keys.secondary_key
    updated = mms.begin_update_service(service.id, {"num_replicas": 1}).result(timeout=60)
    assert updated.num_replicas == 1
    deployments = mms.list_deployments(service_id=service.id)
    assert [d.status for d in deployments] == ["Succeeded", "Succeeded"]
    assert mms.get_deployment(deployments[0].id).expired_at is not None
    assert [s.id for s in mms.list_services(model_name="churn")] == [service.id]
    # The same keyword as MmsClient's, and the operation methods of both clients.
    assert [s.id for s in mms.list_services(name="churn")] == [service.id]
    assert mms.list_services(name="churn") == mms.list_services(service_name="churn")
    with pytest.raises(ValueError, match="one filter"):
        mms.list_services(name="churn", service_name="other")
    operation_id = mms.begin_update_service(service.id, {"num_replicas": 2}).operation_id
    resumed = mms.resume_operation(operation_id, "service").result(timeout=60)
    assert isinstance(resumed, Service2017_09) and resumed.num_replicas == 2
    assert mms.get_operation(operation_id).state == "Succeeded"
    assert mms.delete_service(service.id) and not mms.delete_service(service.id)
    with pytest.raises(NotFoundError):
        mms.get_deployment("nope")
