"""Every validation rule of the seed, reported per field with a 400 in the seed's shape."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.emulator.conftest import KUBE_CONFIG, Api

MODEL = {"name": "churn", "url": "file:///m.json", "mimeType": "a/b"}


def problems(response: Any) -> dict[str, str]:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "BadRequest" and body["statusCode"] == 400
    return {
        d["message"].split(":", 1)[0]: d["message"].split(":", 1)[1].strip()
        for d in body["details"]
    }


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"name": None}, "name", "is required"),
        ({"name": "has space"}, "name", "only letters, digits, hyphens, dots and underscores"),
        ({"name": "x" * 33}, "name", "at most 32"),
        ({"tags": ["not-alnum"]}, "tags[0]", "only letters and digits"),
        ({"tags": ["a" * 31]}, "tags[0]", "at most 30"),
        ({"description": "d" * 201}, "description", "at most 200"),
        ({"url": None}, "url", "is required"),
        ({"mimeType": None}, "mimeType", "is required"),
    ],
)
def test_model_rules(api: Api, change: dict[str, Any], field: str, rule: str) -> None:
    body = {k: v for k, v in {**MODEL, **change}.items() if v is not None}
    assert rule in problems(api.call("POST", "models", body))[field]


def test_all_model_problems_at_once(api: Api) -> None:
    found = problems(api.call("POST", "models", {"name": "bad name", "tags": ["x y"]}))
    assert set(found) == {"name", "tags[0]", "url", "mimeType"}


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"modelType": "registered"}, "modelType", "must be 'Registered'"),
        ({"modelIds": None}, "modelIds", "is required"),
        ({"description": "d" * 513}, "description", "at most 512"),
        (
            {"assets": [{"id": "bad id", "url": "u", "mimeType": "t"}]},
            "assets[0].id",
            "letters, digits",
        ),
        ({"assets": [{"id": "a" * 33, "url": "u", "mimeType": "t"}]}, "assets[0].id", "at most 32"),
        ({"assets": [{"id": "a", "mimeType": "t"}]}, "assets[0].url", "is required"),
        ({"assets": [{"id": "a", "url": "u"}]}, "assets[0].mimeType", "is required"),
        ({"targetRuntime": {"runtimeType": "Python"}}, "targetRuntime.runtimeType", "ScikitPython"),
        (
            {"targetRuntime": {"runtimeType": "TLC", "properties": {"gpu": "yes"}}},
            "targetRuntime.properties.gpu",
            "pipRequirements and condaEnvFile",
        ),
    ],
)
def test_manifest_rules(api: Api, change: dict[str, Any], field: str, rule: str) -> None:
    body = {k: v for k, v in {**api.manifest_body(["m"]), **change}.items() if v is not None}
    assert rule in problems(api.call("POST", "manifests", body))[field]


@pytest.mark.parametrize("runtime", ["SparkPython", "CNTKPython", "ScikitPython", "TLC", "Tlc37"])
def test_every_seed_runtime_is_accepted(api: Api, runtime: str) -> None:
    model = api.register_model()
    body = api.manifest_body(
        [model["id"]],
        targetRuntime={
            "runtimeType": runtime,
            "properties": {"pipRequirements": "file:///r.txt", "condaEnvFile": "file:///c.yml"},
        },
    )
    assert api.call("POST", "manifests", body).status_code == 200


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"imageType": "OCI"}, "imageType", "must be 'Docker'"),
        ({"manifestId": None}, "manifestId", "is required"),
        ({"registryInfo": None}, "registryInfo", "is required"),
        ({"registryInfo": {"location": "l", "password": "p"}}, "registryInfo.user", "is required"),
        ({"registryInfo": {"user": "u", "password": "p"}}, "registryInfo.location", "is required"),
        ({"registryInfo": {"user": "u", "location": "l"}}, "registryInfo.password", "is required"),
    ],
)
def test_image_rules(api: Api, change: dict[str, Any], field: str, rule: str) -> None:
    body = {k: v for k, v in {**api.image_body("m"), **change}.items() if v is not None}
    assert rule in problems(api.call("POST", "images", body))[field]


SERVICE = {"name": "s", "imageId": "i", "kubeConfig": KUBE_CONFIG, "acrImagePullSecret": "p"}


@pytest.mark.parametrize("field", ["name", "imageId", "kubeConfig", "acrImagePullSecret"])
def test_service_fields_are_required(api: Api, field: str) -> None:
    body = {k: v for k, v in SERVICE.items() if k != field}
    assert problems(api.call("POST", "services", body))[field] == "is required"


@pytest.mark.parametrize("kube_config", ["just-a-token", "{}", "[1,2]", "kind: Secret\nusers: []"])
def test_kube_config_must_parse_as_a_kubeconfig(api: Api, kube_config: str) -> None:
    found = problems(api.call("POST", "services", {**SERVICE, "kubeConfig": kube_config}))
    assert "kubeconfig" in found["kubeConfig"]
    assert (
        "just-a-token"
        not in api.call("POST", "services", {**SERVICE, "kubeConfig": kube_config}).text
    )


def test_kube_config_as_yaml_or_single_line_json(api: Api) -> None:
    image = api.build_image()
    yaml_text = "apiVersion: v1\nkind: Config\nclusters: []\nusers: []\ncontexts: []\n"
    for name, kube in (("yaml-kube", yaml_text), ("json-kube", KUBE_CONFIG)):
        body = {**SERVICE, "name": name, "imageId": image["id"], "kubeConfig": kube}
        assert api.call("POST", "services", body).status_code == 202


def test_update_service_rules(api: Api) -> None:
    image = api.build_image()
    service = api.create_service("upd", image["id"])
    found = problems(api.call("PUT", f"services/{service['id']}", {"imageId": image["id"]}))
    assert found["acrImagePullSecret"] == "is required"
    found = problems(api.call("PUT", f"services/{service['id']}", {"acrImagePullSecret": "p"}))
    assert "manifestId" in found["(body)"]


def test_non_object_body(api: Api) -> None:
    assert problems(api.call("POST", "models", ["a"])) == {"(body)": "must be a JSON object"}


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"modelIds": []}, "modelIds", "at least 1"),
        ({"assets": [{"url": "u", "mimeType": "t"}]}, "assets[0].id", "is required"),
        ({"targetRuntime": None}, "targetRuntime", "is required"),
        ({"driverProgram": "bad program"}, "driverProgram", "letters, digits"),
    ],
)
def test_more_manifest_rules(api: Api, change: dict[str, Any], field: str, rule: str) -> None:
    body = {k: v for k, v in {**api.manifest_body(["m"]), **change}.items() if v is not None}
    assert rule in problems(api.call("POST", "manifests", body))[field]


def test_all_manifest_problems_at_once(api: Api) -> None:
    body = {
        "modelType": "Other",
        "assets": [{"id": "a b", "url": "u"}],
        "targetRuntime": {"runtimeType": "Java", "properties": {"jar": "x"}},
        "description": "d" * 600,
    }
    assert set(problems(api.call("POST", "manifests", body))) == {
        "modelIds",
        "modelType",
        "assets[0].id",
        "assets[0].mimeType",
        "targetRuntime.runtimeType",
        "targetRuntime.properties.jar",
        "description",
    }


def test_all_image_problems_at_once(api: Api) -> None:
    body = {"imageType": "OCI", "registryInfo": {"user": ""}}
    assert set(problems(api.call("POST", "images", body))) == {
        "manifestId",
        "imageType",
        "registryInfo.user",
        "registryInfo.location",
        "registryInfo.password",
    }


def test_all_service_problems_at_once_without_echoing_the_kubeconfig(api: Api) -> None:
    response = api.call(
        "POST", "services", {"name": "", "kubeConfig": "token: hunter2", "acrImagePullSecret": ""}
    )
    found = problems(response)
    assert set(found) == {"name", "imageId", "kubeConfig", "acrImagePullSecret"}
    assert found["name"] == "must not be empty"
    assert "hunter2" not in response.text


def test_tags_must_be_a_list_of_strings(api: Api) -> None:
    assert (
        problems(api.call("POST", "models", {**MODEL, "tags": "prod"}))["tags"] == "must be a list"
    )


def test_every_validation_detail_starts_with_its_wire_path(api: Api) -> None:
    response = api.call("POST", "images", {"registryInfo": {"user": "u"}})
    for detail in response.json()["details"]:
        assert detail["code"] == "InvalidField"
        assert re.match(r"^[a-zA-Z.\[\]0-9]+: ", detail["message"]), detail
