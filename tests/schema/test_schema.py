"""The shared wire models: aliases, validation rules and the words used to report them."""

from __future__ import annotations

import json

import pytest

from mms_pulumi.schema import (
    CreateImageRequest,
    CreateManifestRequest,
    CreateServiceRequest,
    Operation,
    OperationState,
    RegisterModelRequest,
    UpdateServiceRequest,
    account_path,
    last_segment,
    normalize_kube_config,
    parse_kube_config,
    validate_request,
)

KUBE_YAML = """apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: https://k8s.example.invalid}
contexts: [{name: x, context: {cluster: c, user: u}}]
users: [{name: u, user: {token: abc}}]
current-context: x
"""


def _problems(model: type, body: object) -> dict[str, str]:
    _, problems = validate_request(model, body)
    return {p.wire_path(): p.rule for p in problems}


def test_model_registration_accepts_camel_and_snake_case() -> None:
    by_alias, _ = validate_request(
        RegisterModelRequest, {"name": "churn", "url": "file:///m", "mimeType": "a/b"}
    )
    by_name, _ = validate_request(
        RegisterModelRequest, {"name": "churn", "url": "file:///m", "mime_type": "a/b"}
    )
    assert by_alias == by_name
    assert by_alias is not None
    assert by_alias.to_wire() == {
        "name": "churn",
        "url": "file:///m",
        "mimeType": "a/b",
        "description": "",
        "tags": [],
        "unpack": False,
    }


def test_every_bad_model_field_is_reported_at_once() -> None:
    problems = _problems(
        RegisterModelRequest,
        {"name": "has space", "tags": ["ok", "not-ok"], "description": "x" * 201},
    )
    assert problems == {
        "name": "must contain only letters, digits, hyphens, dots and underscores",
        "url": "is required",
        "mimeType": "is required",
        "description": "must be at most 200 characters",
        "tags[1]": "must contain only letters and digits",
    }


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("name", "a" * 33, "must be at most 32 characters"),
        ("name", "", "must not be empty"),
        ("tags", ["a" * 31], "must be at most 30 characters"),
        ("unpack", "maybe", "must be true or false"),
    ],
)
def test_model_rules(field: str, value: object, rule: str) -> None:
    body = {"name": "m", "url": "u", "mimeType": "t", field: value}
    assert rule in _problems(RegisterModelRequest, body).values()


def test_manifest_rules_name_nested_fields() -> None:
    problems = _problems(
        CreateManifestRequest,
        {
            "modelIds": [],
            "modelType": "registered",
            "assets": [{"id": "bad id", "url": "u"}],
            "targetRuntime": {"runtimeType": "Python", "properties": {"extra": "x"}},
            "description": "d" * 513,
        },
    )
    assert problems["modelIds"] == "must have at least 1 item(s)"
    assert problems["modelType"] == "must be 'Registered'"
    assert (
        problems["assets[0].id"]
        == "must contain only letters, digits, hyphens, dots and underscores"
    )
    assert problems["assets[0].mimeType"] == "is required"
    assert "ScikitPython" in problems["targetRuntime.runtimeType"]
    assert "pipRequirements" in problems["targetRuntime.properties.extra"]
    assert problems["description"] == "must be at most 512 characters"


def test_image_requires_docker_and_full_registry_info() -> None:
    problems = _problems(
        CreateImageRequest,
        {"manifestId": "m", "imageType": "OCI", "registryInfo": {"user": "u"}},
    )
    assert problems == {
        "imageType": "must be 'Docker'",
        "registryInfo.location": "is required",
        "registryInfo.password": "is required",
    }


def test_registry_password_never_in_repr() -> None:
    request = CreateImageRequest.model_validate(
        {
            "manifestId": "m",
            "imageType": "Docker",
            "registryInfo": {"user": "u", "location": "l", "password": "hunter2"},
        }
    )
    assert "hunter2" not in repr(request)
    assert "hunter2" not in str(request)


def test_service_kube_config_must_parse_and_is_never_echoed_in_errors() -> None:
    problems = _problems(
        CreateServiceRequest,
        {
            "name": "s",
            "imageId": "i",
            "kubeConfig": "secret-token-value",
            "acrImagePullSecret": "p",
        },
    )
    assert "kubeconfig" in problems["kubeConfig"]
    assert "secret-token-value" not in json.dumps(problems)


def test_kube_config_accepts_yaml_and_single_line_json() -> None:
    as_json = normalize_kube_config(KUBE_YAML)
    assert "\n" not in as_json
    assert parse_kube_config(as_json) == parse_kube_config(KUBE_YAML)
    request, problems = validate_request(
        CreateServiceRequest,
        {"name": "s", "imageId": "i", "kubeConfig": as_json, "acrImagePullSecret": "p"},
    )
    assert problems == []
    assert request is not None
    assert "abc" not in repr(request)


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ('{"clusters": ' + "[" * 100 + "]" * 100 + "}", "nested more than 64 levels"),
        ("[" * 5000 + "]" * 5000, "nested more than 64 levels"),
        ('{"clusters": [' + ",".join(["1"] * 60_000) + "]}", "more than 50000 values"),
        ("{clusters: [" + ",".join(["1"] * 60_000) + "]}", "more than 50000 values"),
    ],
)
def test_kube_config_bounds_hold_on_the_json_and_the_yaml_paths(text: str, rule: str) -> None:
    with pytest.raises(ValueError, match=rule):
        parse_kube_config(text)


def test_a_yaml_flow_mapping_that_is_not_json_still_parses() -> None:
    text = "{kind: Config, clusters: [], users: [], contexts: [], current-context: c}"
    assert parse_kube_config(text)["current-context"] == "c"
    assert normalize_kube_config(text) == normalize_kube_config(json.dumps(parse_kube_config(text)))


@pytest.mark.parametrize("text", ["{}", "[1, 2]", "kind: Secret\nclusters: []", ": : :"])
def test_kube_config_rejects_non_kubeconfigs(text: str) -> None:
    with pytest.raises(ValueError, match="kubeconfig"):
        parse_kube_config(text)


def test_update_service_needs_a_target() -> None:
    assert _problems(UpdateServiceRequest, {"acrImagePullSecret": "p"}) == {
        "(body)": "give manifestId (as the seed documents) or imageId"
    }
    assert _problems(UpdateServiceRequest, {"acrImagePullSecret": "p", "imageId": "i"}) == {}


def test_non_object_body_is_one_problem() -> None:
    assert _problems(RegisterModelRequest, ["not", "an", "object"]) == {
        "(body)": "must be a JSON object"
    }


def test_operation_reads_both_cancel_spellings_and_resource_id() -> None:
    operation = Operation.model_validate(
        {"id": "o", "state": "Canceled", "resourceLocation": "/api/x/images/abc"}
    )
    assert operation.state is OperationState.CANCELLED
    assert operation.state.is_terminal
    assert operation.resource_id == "abc"
    assert not OperationState.RUNNING.is_terminal


def test_python_paths_are_snake_case() -> None:
    _, problems = validate_request(
        CreateImageRequest, {"manifestId": "m", "imageType": "Docker", "registryInfo": {}}
    )
    assert {p.python_path() for p in problems} == {
        "registry_info.user",
        "registry_info.location",
        "registry_info.password",
    }


@pytest.mark.parametrize(
    "link",
    [
        "/api/x/operations/abc",
        "/api/x/operations/abc/",
        "http://host/api/x/operations/abc?api-version=2017-06-01-privatepreview",
        "http://host/api/x/operations/abc/?api-version=x#frag",
    ],
)
def test_one_rule_reads_the_id_a_link_ends_in(link: str) -> None:
    assert last_segment(link) == "abc"
    operation = Operation(id="o", state=OperationState.SUCCEEDED, resource_location=link)
    assert operation.resource_id == "abc"


def test_the_account_path_quotes_each_id_as_one_segment() -> None:
    assert account_path("s", "r g", "a/b") == (
        "/api/subscriptions/s/resourceGroups/r%20g/hostingAccounts/a%2Fb"
    )
