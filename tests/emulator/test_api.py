"""Every seed operation over raw HTTP: status codes, headers and body shapes."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from tests.emulator.conftest import API_VERSION, KUBE_CONFIG, Api

GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def assert_error_shape(body: dict[str, Any], status: int) -> None:
    assert set(body) == {"code", "message", "statusCode", "details"}
    assert body["statusCode"] == status
    assert isinstance(body["code"], str) and body["code"]
    assert all(set(detail) == {"code", "message"} for detail in body["details"])


def test_register_model_answers_200_as_the_official_client_requires_with_versions_per_name(
    api: Api,
) -> None:
    response = api.call(
        "POST",
        "models",
        {"name": "churn", "url": "file:///m.json", "mimeType": "a/b", "tags": ["prod"]},
    )
    assert response.status_code == 200
    assert GUID.match(response.headers["x-ms-request-id"])
    assert response.headers["content-type"] == "application/json"
    first = response.json()
    assert GUID.match(first["id"]) and first["version"] == 1
    assert ISO_UTC.match(first["createdAt"])
    assert first["tags"] == ["prod"] and first["description"] == ""
    second = api.register_model("churn")
    other = api.register_model("other")
    assert second["version"] == 2 and second["id"] != first["id"]
    assert other["version"] == 1


def test_list_and_get_models_with_filters(api: Api) -> None:
    tagged = api.register_model("churn", tags=["prod"])
    api.register_model("churn")
    api.register_model("fraud")
    assert [
        m["version"]
        for m in api.call(
            "GET", "models", params={"api-version": "2017-06-01-privatepreview", "name": "churn"}
        ).json()
    ] == [1, 2]
    by_tag = api.call(
        "GET", "models", params={"api-version": "2017-06-01-privatepreview", "tag": "prod"}
    ).json()
    assert [m["id"] for m in by_tag] == [tagged["id"]]
    assert len(api.call("GET", "models").json()) == 3
    assert api.call("GET", f"models/{tagged['id']}").json() == tagged


def test_manifest_answers_200_and_checks_models_of_the_account(api: Api, emulator: Any) -> None:
    manifest = api.create_manifest()
    assert GUID.match(manifest["id"]) and ISO_UTC.match(manifest["createdTime"])
    assert manifest["assets"][0]["unpack"] is False
    assert api.call("GET", f"manifests/{manifest['id']}").json() == manifest
    assert [m["id"] for m in api.call("GET", "manifests").json()] == [manifest["id"]]
    foreign = Api(emulator.base_url, "another").register_model()
    response = api.call("POST", "manifests", api.manifest_body([foreign["id"]]))
    assert response.status_code == 400
    assert response.json()["details"][0]["message"].startswith("modelIds[0]:")


def test_image_build_is_async_with_operation_location(api: Api) -> None:
    manifest = api.create_manifest()
    response = api.call("POST", "images", api.image_body(manifest["id"]))
    assert response.status_code == 202
    assert response.content == b""
    location = response.headers["Operation-Location"]
    assert location.startswith(api.root.removeprefix(api.base_url) + "/operations/")
    assert "?" not in location
    assert GUID.match(response.headers["x-ms-request-id"])
    first = api.call("GET", f"{api.base_url}{location}").json()
    assert first["state"] in ("NotStarted", "Running")
    assert first["operationType"] == "Image"
    assert first["endTime"] is None
    image_id = first["resourceLocation"].rsplit("/", 1)[1]
    building = api.call("GET", f"images/{image_id}").json()
    assert building["creationState"] in ("NotStarted", "Running")
    done = api.wait(response)
    assert done["state"] == "Succeeded" and ISO_UTC.match(done["endTime"])
    assert set(done) >= {
        "id",
        "operationType",
        "resourceLocation",
        "createdTime",
        "endTime",
        "state",
    }
    image = api.call("GET", f"images/{image_id}").json()
    assert image["creationState"] == "Succeeded"
    assert image["imageType"] == "Docker"
    # The seed echoed the password; the emulator keeps none (readable by any driver).
    assert image["registryInfo"] == {"user": "acr", "location": "acr.local"}
    assert image["manifestId"] == manifest["id"]
    assert image["imageLocation"].startswith("acr.local/")
    assert [i["id"] for i in api.call("GET", "images").json()] == [image_id]


def test_service_create_update_delete(api: Api) -> None:
    image = api.build_image()
    service = api.create_service("churn", image["id"])
    assert service["state"] == "Succeeded" and service["imageId"] == image["id"]
    assert ISO_UTC.match(service["createdAt"]) and ISO_UTC.match(service["updatedAt"])
    assert "kubeConfig" not in service
    assert service["scoringUri"].endswith("/score")
    second = api.build_image()
    operation = api.wait(
        api.call(
            "PUT",
            f"services/{service['id']}",
            {"imageId": second["id"], "acrImagePullSecret": "acr-pull-2"},
        )
    )
    assert operation["state"] == "Succeeded" and operation["operationType"] == "Service"
    updated = api.call("GET", f"services/{service['id']}").json()
    assert updated["imageId"] == second["id"]
    assert updated["acrImagePullSecret"] == "acr-pull-2"
    assert updated["updatedAt"] > service["updatedAt"]
    assert [s["id"] for s in api.call("GET", "services").json()] == [service["id"]]
    deleted = api.call("DELETE", f"services/{service['id']}")
    assert deleted.status_code == 200 and deleted.content == b""
    assert api.call("DELETE", f"services/{service['id']}").status_code == 204
    assert api.call("GET", f"services/{service['id']}").status_code == 404


def test_update_by_manifest_id_as_the_seed_documents(api: Api) -> None:
    image = api.build_image()
    service = api.create_service("by-manifest", image["id"])
    newer = api.build_image(image["manifestId"])
    operation = api.wait(
        api.call(
            "PUT",
            f"services/{service['id']}",
            {"manifestId": image["manifestId"], "acrImagePullSecret": "acr-pull"},
        )
    )
    assert operation["state"] == "Succeeded"
    assert api.call("GET", f"services/{service['id']}").json()["imageId"] == newer["id"]


def test_service_names_are_unique_per_account(api: Api, emulator: Any) -> None:
    image = api.build_image()
    api.create_service("taken", image["id"])
    body = {
        "name": "taken",
        "imageId": image["id"],
        "kubeConfig": KUBE_CONFIG,
        "acrImagePullSecret": "p",
    }
    conflict = api.call("POST", "services", body)
    assert conflict.status_code == 409
    assert_error_shape(conflict.json(), 409)
    other = Api(emulator.base_url, f"other-{uuid.uuid4().hex[:6]}")
    other_image = other.build_image()
    assert other.create_service("taken", other_image["id"])["state"] == "Succeeded"


def test_service_needs_a_successfully_built_image_of_the_account(api: Api) -> None:
    manifest = api.create_manifest()
    building = api.call("POST", "images", api.image_body(manifest["id"]))
    image_id = (
        api.call("GET", f"{api.base_url}{building.headers['Operation-Location']}")
        .json()["resourceLocation"]
        .rsplit("/", 1)[1]
    )
    body = {"name": "s", "imageId": image_id, "kubeConfig": KUBE_CONFIG, "acrImagePullSecret": "p"}
    early = api.call("POST", "services", body)
    assert early.status_code == 400
    assert early.json()["details"][0]["message"].startswith("imageId:")
    missing = api.call("POST", "services", {**body, "imageId": str(uuid.uuid4())})
    assert missing.status_code == 400
    api.wait(building)


def test_unknown_ids_are_404_and_scoped_to_the_account(api: Api, emulator: Any) -> None:
    model = api.register_model()
    other = Api(emulator.base_url, "someone-else")
    for path in ("models", "manifests", "images", "services", "operations"):
        response = api.call("GET", f"{path}/{uuid.uuid4()}")
        assert response.status_code == 404
        assert_error_shape(response.json(), 404)
    assert other.call("GET", f"models/{model['id']}").status_code == 404
    put = api.call("PUT", f"services/{uuid.uuid4()}", {"imageId": "x", "acrImagePullSecret": "p"})
    assert put.status_code == 404


def test_auth_requires_a_bearer_token(api: Api) -> None:
    for token in (None, ""):
        response = api.call("GET", "models", token=token)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert_error_shape(response.json(), 401)


def test_api_version_is_checked_but_may_be_absent(api: Api) -> None:
    wrong = api.call("GET", "models", params={"api-version": "2017-09-01-preview"})
    assert wrong.status_code == 400
    assert "2017-06-01-privatepreview" in wrong.json()["message"]
    assert api.call("GET", "models", params={}).status_code == 200


def test_resource_groups_segment_is_case_insensitive(api: Api) -> None:
    model = api.register_model()
    lower = api.root.replace("resourceGroups", "resourcegroups")
    assert api.call("GET", f"{lower}/models/{model['id']}").status_code == 200


def test_paging_with_count_and_next_link(api: Api) -> None:
    for _ in range(5):
        api.register_model("paged")
    page = api.call(
        "GET", "models", params={"api-version": "2017-06-01-privatepreview", "count": "2"}
    ).json()
    ids = [m["id"] for m in page["value"]]
    while "nextLink" in page:
        assert "api-version=2017-06-01-privatepreview" in page["nextLink"]
        page = api.call("GET", page["nextLink"], params={}).json()
        ids += [m["id"] for m in page["value"]]
    assert len(ids) == len(set(ids)) == 5


@pytest.mark.parametrize(
    ("method", "path", "status"), [("GET", "nowhere", 404), ("PATCH", "models", 405)]
)
def test_framework_errors_use_the_seed_shape(api: Api, method: str, path: str, status: int) -> None:
    response = api.call(method, path)
    assert response.status_code == status
    assert_error_shape(response.json(), status)
    assert "x-ms-request-id" in response.headers


def test_malformed_json_is_a_400_in_the_seed_shape(api: Api) -> None:
    response = api.call("POST", "models", raw=b"{not json")
    assert response.status_code == 400
    assert_error_shape(response.json(), 400)


def test_body_over_the_limit_is_413(api: Api) -> None:
    response = api.call("POST", "models", raw=b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}')
    assert response.status_code == 413
    assert_error_shape(response.json(), 413)


def test_client_request_id_is_echoed(api: Api) -> None:
    response = api.session.get(
        f"{api.root}/models",
        headers={"Authorization": "Bearer t", "x-ms-client-request-id": "abc-123"},
    )
    assert response.headers["x-ms-client-request-id"] == "abc-123"


def wait_for(api: Api, location: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        operation = dict(api.call("GET", f"{api.base_url}{location}").json())
        if operation["state"] in ("Succeeded", "Failed"):
            return operation
        time.sleep(0.02)
    raise AssertionError(f"operation {location} did not finish")


def test_operation_is_not_terminal_before_its_time(api: Api, emulator: Any) -> None:
    manifest = api.create_manifest()
    accepted = api.call("POST", "images", api.image_body(manifest["id"]))
    first = api.call("GET", f"{api.base_url}{accepted.headers['Operation-Location']}").json()
    assert first["state"] in ("NotStarted", "Running")
    assert first["endTime"] is None and "error" not in first
    assert first["resourceLocation"].startswith(api.root.removeprefix(api.base_url) + "/images/")
    done = wait_for(api, accepted.headers["Operation-Location"])
    took = datetime.fromisoformat(done["endTime"]) - datetime.fromisoformat(done["createdTime"])
    assert took.total_seconds() >= emulator.operation_seconds
    assert done["createdTime"] == first["createdTime"] and done["id"] == first["id"]


def test_image_numbering_and_location_per_manifest(api: Api) -> None:
    unnamed = api.create_manifest()
    named = api.create_manifest(name="churn-manifest")
    first = api.build_image(named["id"])
    second = api.build_image(named["id"])
    assert first["imageLocation"] == "acr.local/churn-manifest:1"
    assert second["imageLocation"] == "acr.local/churn-manifest:2"
    assert api.build_image(unnamed["id"])["imageLocation"] == "acr.local/image:1"
    assert ISO_UTC.match(first["createdTime"]) and first["description"] == ""


def test_service_shows_its_deployment_then_its_update_as_running(api: Api) -> None:
    image = api.build_image()
    body = {
        "name": "live",
        "imageId": image["id"],
        "kubeConfig": KUBE_CONFIG,
        "acrImagePullSecret": "p",
    }
    accepted = api.call("POST", "services", body)
    service_id = wait_for_resource(api, accepted)
    deploying = api.call("GET", f"services/{service_id}").json()
    assert deploying["state"] in ("NotStarted", "Running")
    assert deploying["name"] == "live" and deploying["manifestId"] == image["manifestId"]
    assert "kubeConfig" not in deploying and "kube-token" not in json.dumps(deploying)
    wait_for(api, accepted.headers["Operation-Location"])
    before = api.call("GET", f"services/{service_id}").json()
    assert before["state"] == "Succeeded"
    put = api.call(
        "PUT", f"services/{service_id}", {"imageId": image["id"], "acrImagePullSecret": "q"}
    )
    assert put.status_code == 202 and put.content == b""
    assert put.headers["Operation-Location"].rsplit("/", 2)[-2] == "operations"
    assert api.call("GET", f"services/{service_id}").json()["state"] == "Running"
    wait_for(api, put.headers["Operation-Location"])
    after = api.call("GET", f"services/{service_id}").json()
    assert after["state"] == "Succeeded" and after["updatedAt"] > before["updatedAt"]
    assert after["createdAt"] == before["createdAt"] and after["acrImagePullSecret"] == "q"


def wait_for_resource(api: Api, accepted: Any) -> str:
    assert accepted.status_code == 202, accepted.text
    operation = api.call("GET", f"{api.base_url}{accepted.headers['Operation-Location']}").json()
    return str(operation["resourceLocation"].rsplit("/", 1)[1])


def test_list_services_by_name(api: Api) -> None:
    image = api.build_image()
    wanted = api.create_service("wanted", image["id"])
    api.create_service("other", image["id"])
    query = {"api-version": API_VERSION, "name": "wanted"}
    assert [s["id"] for s in api.call("GET", "services", params=query).json()] == [wanted["id"]]


def test_update_rules_against_images(api: Api) -> None:
    image = api.build_image()
    service = api.create_service("rules", image["id"])
    path = f"services/{service['id']}"
    lonely = api.create_manifest()
    no_image = api.call("PUT", path, {"manifestId": lonely["id"], "acrImagePullSecret": "p"})
    assert no_image.status_code == 400
    assert no_image.json()["details"][0]["message"].startswith("manifestId:")
    unknown = api.call("PUT", path, {"imageId": str(uuid.uuid4()), "acrImagePullSecret": "p"})
    assert unknown.status_code == 400 and "no image" in unknown.json()["details"][0]["message"]
    model = api.register_model("broken", url="file:///no/such/file.pkl")
    failed = api.call("POST", "images", api.image_body(api.create_manifest([model["id"]])["id"]))
    failed_id = wait_for_resource(api, failed)
    wait_for(api, failed.headers["Operation-Location"])
    refused = api.call("PUT", path, {"imageId": failed_id, "acrImagePullSecret": "p"})
    assert refused.status_code == 400
    message = refused.json()["details"][0]["message"]
    assert message.startswith("imageId:") and "failed" in message
    assert api.call("PUT", f"services/{uuid.uuid4()}", {}).status_code == 404


def test_every_kind_is_scoped_to_its_account(api: Api, emulator: Any) -> None:
    image = api.build_image()
    service = api.create_service("mine", image["id"])
    accepted = api.call("POST", "images", api.image_body(image["manifestId"]))
    operation_id = accepted.headers["Operation-Location"].rsplit("/", 1)[1]
    intruder = Api(emulator.base_url, f"intruder-{uuid.uuid4().hex[:6]}")
    for path in (
        f"manifests/{image['manifestId']}",
        f"images/{image['id']}",
        f"services/{service['id']}",
        f"operations/{operation_id}",
    ):
        assert intruder.call("GET", path).status_code == 404, path
    for kind in ("models", "manifests", "images", "services"):
        assert intruder.call("GET", kind).json() == []
    assert intruder.call("DELETE", f"services/{service['id']}").status_code == 204
    assert api.call("GET", f"services/{service['id']}").status_code == 200
    foreign = intruder.call("POST", "images", intruder.image_body(image["manifestId"]))
    assert foreign.status_code == 400
    assert foreign.json()["details"][0]["message"].startswith("manifestId:")
    wait_for(api, accepted.headers["Operation-Location"])


def test_manifest_names_every_unknown_model(api: Api) -> None:
    known = api.register_model()
    response = api.call("POST", "manifests", api.manifest_body(["nope-1", known["id"], "nope-2"]))
    assert response.status_code == 400
    messages = [d["message"] for d in response.json()["details"]]
    assert [m.split(":")[0] for m in messages] == ["modelIds[0]", "modelIds[2]"]
    assert "nope-2" in messages[1]


def test_chunked_body_over_the_limit_is_413_with_ids(api: Api) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(3):
            yield b"x" * (600 * 1024)

    response = api.session.post(
        f"{api.root}/models",
        data=chunks(),
        headers={"Authorization": "Bearer t", "x-ms-client-request-id": "big-1"},
        timeout=30,
    )
    assert response.status_code == 413
    assert_error_shape(response.json(), 413)
    assert response.json()["code"] == "PayloadTooLarge"
    assert GUID.match(response.headers["x-ms-request-id"])
    assert response.headers["x-ms-client-request-id"] == "big-1"


def test_request_ids_are_fresh_and_on_every_answer(api: Api) -> None:
    answers = [api.call("GET", "models"), api.call("GET", "models", token=None)]
    answers.append(api.session.get(f"{api.base_url}/_emulator/health", timeout=10))
    ids = [a.headers["x-ms-request-id"] for a in answers]
    assert all(GUID.match(i) for i in ids) and len(set(ids)) == 3
    assert all(a.headers["content-type"] == "application/json" for a in answers)


def test_a_wrong_scheme_or_method_keeps_the_seed_shape(api: Api) -> None:
    basic = api.session.get(
        f"{api.root}/models", headers={"Authorization": "Basic dXNlcjpwYXNz"}, timeout=10
    )
    assert basic.status_code == 401 and basic.headers["WWW-Authenticate"] == "Bearer"
    for method, path in (("DELETE", "models/x"), ("PUT", "images/x"), ("POST", "operations/x")):
        response = api.call(method, path, {})
        assert response.status_code == 405, (method, path)
        assert_error_shape(response.json(), 405)


def test_malformed_json_names_the_problem_not_the_body(api: Api) -> None:
    response = api.call("POST", "manifests", raw=b'{"modelIds": [secret-value')
    assert response.status_code == 400
    body = response.json()
    assert body["details"][0]["message"].startswith("(body): is not valid JSON")
    assert "secret-value" not in response.text


def test_2017_09_list_filters_are_understood(api: Api) -> None:
    image = api.build_image()
    other = api.build_image()
    service = api.create_service("by-service-name", image["id"])
    by_service_name = api.call(
        "GET", "services", params={"api-version": API_VERSION, "serviceName": "by-service-name"}
    ).json()
    assert [s["id"] for s in by_service_name] == [service["id"]]
    by_manifest = api.call(
        "GET", "images", params={"api-version": API_VERSION, "manifestId": other["manifestId"]}
    ).json()
    assert [i["id"] for i in by_manifest] == [other["id"]]


def test_chunked_body_under_the_limit_is_accepted(api: Api) -> None:
    body = json.dumps({"name": "chunked", "url": "file:///m", "mimeType": "a/b"}).encode()
    response = api.session.post(
        f"{api.root}/models",
        data=iter([body[:10], body[10:]]),
        headers={"Authorization": "Bearer t", "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "chunked"
