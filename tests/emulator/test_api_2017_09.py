"""The 2017-09-01-preview surface (``accounts`` paths) over raw HTTP: every operation,
status, filter, page and key rule of mms-api.md §5, beside the 2017-06 one."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from mms_pulumi.emulator.process import EmulatorProcess
from mms_pulumi.schema import API_VERSION, API_VERSION_2017_09
from tests.emulator.conftest import COMPUTE, QUICKSTART, Api, Api2017_09

PID_DRIVER = (
    "import os\n\ndef init():\n    pass\n\n\ndef run(data):\n    return {'pid': os.getpid()}\n"
)

pytestmark = pytest.mark.emulator(operation_seconds=0.1)


@pytest.fixture
def api(emulator: EmulatorProcess, request: pytest.FixtureRequest) -> Api2017_09:
    return Api2017_09(emulator.base_url, f"acct-{request.node.name[:20]}")


def test_each_path_family_wants_its_own_api_version(api: Api2017_09) -> None:
    missing = api.call("GET", "models", params={})
    assert missing.status_code == 400 and "required" in missing.text
    older = api.call("GET", "models", params={"api-version": API_VERSION})
    assert older.status_code == 400 and API_VERSION_2017_09 in older.text
    legacy = Api(api.base_url, "legacy")
    assert (
        legacy.call("GET", "models", params={"api-version": API_VERSION_2017_09}).status_code == 400
    )
    assert legacy.call("GET", "models", params={}).status_code == 200  # the a20 CLI sent none


def test_the_two_generations_keep_their_accounts_apart(api: Api2017_09) -> None:
    api.register_model("only-here")
    twin = Api(api.base_url, api.root.rsplit("/", 1)[1])  # hostingAccounts, same names
    assert twin.call("GET", "models").json() == []
    assert [m["name"] for m in api.call("GET", "models").json()["value"]] == ["only-here"]
    # A hostingAccounts subscription spelled like an accounts key cannot reach it either.
    forged = twin.call(
        "GET", twin.root.replace("/subscriptions/sub/", "/subscriptions/accounts:sub/") + "/models"
    )
    assert forged.status_code == 400 and "subscription: may not begin with" in forged.text


def test_manifests_are_named_versioned_and_filtered(api: Api2017_09) -> None:
    first = api.manifest("churn")
    second = api.manifest("churn")
    assert (first["version"], second["version"]) == (1, 2)
    assert first["webserviceType"] == "Realtime"
    assert first["targetRuntime"]["runtimeType"] == "Python"
    page = api.call(
        "GET", "manifests", params={"api-version": API_VERSION_2017_09, "manifestName": "churn"}
    ).json()
    assert [m["id"] for m in page["value"]] == [
        first["id"],
        second["id"],
    ] and "nextLink" not in page
    by_model = api.call(
        "GET",
        "manifests",
        params={"api-version": API_VERSION_2017_09, "modelId": first["modelIds"][0]},
    ).json()["value"]
    assert [m["id"] for m in by_model] == [first["id"]]
    bad = api.call(
        "POST", "manifests", {"assets": [], "targetRuntime": {"runtimeType": "CNTKPython"}}
    )
    fields = [d["message"].split(":")[0] for d in bad.json()["details"]]
    assert bad.status_code == 400 and {"name", "driverProgram", "targetRuntime.runtimeType"} <= set(
        fields
    )


def test_images_are_named_target_compute_and_embed_their_manifest(api: Api2017_09) -> None:
    manifest = api.manifest("scorer")
    image = api.image(manifest["id"], name="scorer-image")
    assert image["name"] == "scorer-image" and image["version"] == 1
    assert image["computeResourceId"] == COMPUTE
    assert image["manifest"]["id"] == manifest["id"] and image["manifest"]["name"] == "scorer"
    assert image["imageLocation"].endswith("/scorer-image:1")
    assert "registryInfo" not in image
    log = api.session.get(image["imageBuildLogUri"], timeout=10)
    assert log.status_code == 200 and "build Succeeded" in log.text
    page = api.call(
        "GET", "images", params={"api-version": API_VERSION_2017_09, "manifestName": "scorer"}
    )
    assert [i["id"] for i in page.json()["value"]] == [image["id"]]
    refused = api.call("POST", "images", {"manifestId": manifest["id"], "imageType": "Docker"})
    fields = {d["message"].split(":")[0] for d in refused.json()["details"]}
    assert refused.status_code == 400 and {"name", "computeResourceId"} <= fields


def test_a_service_runs_its_replicas_and_wants_a_key(api: Api2017_09, tmp_path: Path) -> None:
    driver = tmp_path / "score.py"
    driver.write_text(PID_DRIVER)
    image = api.image(api.manifest("pids", driver=driver)["id"])
    service = api.service("two", image["id"], numReplicas=2, appInsightsEnabled=True)
    assert service["numReplicas"] == 2 and service["appInsightsEnabled"] is True
    assert service["image"]["id"] == image["id"] and service["manifest"]["name"] == "pids"
    assert [m["name"] for m in service["models"]] == ["churn"]
    keys = api.call("GET", f"services/{service['id']}/keys").json()

    def score(key: str | None, uri: str = service["scoringUri"], **more: str) -> requests.Response:
        headers = {"Authorization": f"Bearer {key}"} if key else {"Authorization": None}
        return api.session.post(uri, json={}, headers={**headers, **more}, timeout=30)

    assert score(None).status_code == 401  # 2017-09 services always want a key
    # The scoring port hands each connection to the next replica: round robin over both
    # for callers that connect each time, one replica for a connection kept alive.
    fresh_connections = {
        score(keys["primaryKey"], Connection="close").json()["pid"] for _ in range(6)
    }
    assert len(fresh_connections) == 2
    assert len({score(keys["primaryKey"]).json()["pid"] for _ in range(6)}) == 1
    # The emulator's own port forwards each request to the next replica.
    forwarded = api.base_url + urlsplit(service["scoringUri"]).path
    assert urlsplit(forwarded).port != urlsplit(service["scoringUri"]).port
    assert len({score(keys["primaryKey"], forwarded).json()["pid"] for _ in range(6)}) == 2
    fresh = api.call(
        "POST", f"services/{service['id']}/regenerateKeys", {"keyType": "Primary"}
    ).json()
    assert score(keys["primaryKey"]).status_code == 401  # the old key fails at once
    assert score(fresh["primaryKey"]).status_code == 200
    assert score(keys["secondaryKey"]).status_code == 200  # the other one still works


def test_update_scales_and_deployments_record_the_history(api: Api2017_09, tmp_path: Path) -> None:
    driver = tmp_path / "score.py"
    driver.write_text(PID_DRIVER)
    image = api.image(api.manifest("scale", driver=driver)["id"])
    service = api.service("scaled", image["id"])
    operation = api.wait(api.call("PUT", f"services/{service['id']}", {"numReplicas": 3}))
    assert operation["state"] == "Succeeded", operation
    updated = api.call("GET", f"services/{service['id']}").json()
    assert updated["numReplicas"] == 3 and updated["imageId"] == image["id"]
    key = api.call("GET", f"services/{service['id']}/keys").json()["primaryKey"]
    headers = {"Authorization": f"Bearer {key}", "Connection": "close"}  # a fresh one each
    pids = {
        api.session.post(updated["scoringUri"], json={}, headers=headers, timeout=30).json()["pid"]
        for _ in range(9)
    }
    assert len(pids) == 3
    deployments = api.call(
        "GET",
        "deployments",
        params={"api-version": API_VERSION_2017_09, "serviceId": service["id"]},
    ).json()
    assert [d["status"] for d in deployments] == ["Succeeded", "Succeeded"]
    assert deployments[0]["expiredAt"] and deployments[1].get("expiredAt") is None
    assert deployments[0]["serviceName"] == "scaled" and deployments[0]["imageId"] == image["id"]
    one = api.call("GET", f"deployments/{deployments[1]['id']}").json()
    assert one == deployments[1]
    assert api.call("GET", "deployments/nope").status_code == 404


def test_service_rules_409_404_filters_and_delete(api: Api2017_09) -> None:
    image = api.image(api.manifest("rules")["id"])
    service = api.service("rules", image["id"])
    body = {"name": "rules", "imageId": image["id"], "computeResource": {"id": COMPUTE}}
    assert api.call("POST", "services", body).status_code == 409
    assert api.call("PUT", "services/unknown", {"numReplicas": 1}).status_code == 404
    both = {**body, "name": "both", "numReplicas": 2, "autoScaler": {"autoscaleEnabled": True}}
    refused = api.call("POST", "services", both)
    assert refused.status_code == 400 and "numReplicas cannot be given" in refused.text
    # Each replica is a process on this machine: the emulator runs at most MAX_REPLICAS.
    for many in (
        {**body, "name": "many", "numReplicas": 10**30},
        {
            **body,
            "name": "many",
            "autoScaler": {"autoscaleEnabled": True, "minReplicas": 17, "maxReplicas": 20},
        },
    ):
        refused = api.call("POST", "services", many)
        assert refused.status_code == 400 and "at most 16 scoring processes" in refused.text
    grown = api.call("PUT", f"services/{service['id']}", {"numReplicas": 17})
    assert grown.status_code == 400 and "numReplicas: the local emulator" in grown.text
    for name, value in (
        ("serviceName", "rules"),
        ("imageId", image["id"]),
        ("modelName", "churn"),
        ("manifestName", "rules"),
        ("computeResourceId", COMPUTE),
    ):
        found = api.call(
            "GET", "services", params={"api-version": API_VERSION_2017_09, name: value}
        )
        assert [s["id"] for s in found.json()["value"]] == [service["id"]], name
    nothing = api.call(
        "GET", "services", params={"api-version": API_VERSION_2017_09, "modelName": "other"}
    )
    assert nothing.json()["value"] == []
    assert api.call("DELETE", f"services/{service['id']}").status_code == 200
    assert api.call("DELETE", f"services/{service['id']}").status_code == 204


def test_lists_are_pages_with_next_links(api: Api2017_09) -> None:
    for index in range(5):
        api.register_model(f"m{index}")
    first = api.call(
        "GET", "models", params={"api-version": API_VERSION_2017_09, "count": "2"}
    ).json()
    assert len(first["value"]) == 2 and "api-version=2017-09-01-preview" in first["nextLink"]
    names = [m["name"] for m in first["value"]]
    link = first["nextLink"]
    while link:
        page = api.session.get(link, timeout=10).json()
        names += [m["name"] for m in page["value"]]
        link = page.get("nextLink")
    assert names == [f"m{index}" for index in range(5)]


def test_2017_09_models_take_any_name_and_tags_and_every_answer_has_a_client_id(
    api: Api2017_09,
) -> None:
    """The 2017-09 reference restates no name or tag limits, and the a27 CLI sent long file
    names and tags like ``my-tag``; 2017-06 keeps the seed's limits."""
    body = {
        "name": "a-rather-long-model-file-name-v2.pkl",
        "url": (QUICKSTART / "churn-model.json").as_uri(),
        "mimeType": "application/json",
        "tags": ["my-tag", "v1.2"],
    }
    answer = api.call("POST", "models", body)
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-ms-client-request-id"]  # made up: the a27 CLI sends none
    assert api.call("POST", "models", {**body, "name": "bad\x00name"}).status_code == 400
    legacy = Api(api.base_url, "legacy-names")
    assert legacy.call("POST", "models", body).status_code == 400
