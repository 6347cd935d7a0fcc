"""The emulator's OpenAPI document and the client agree: every call the client makes is a
documented operation, with the request body the client sends and an answer whose fields
the client's response model reads (no document served, no socket: the app's own schema)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from mms_pulumi.emulator.app import create_app
from mms_pulumi.emulator.settings import EmulatorSettings
from mms_pulumi.schema import (
    ACCOUNT_PATH,
    ACCOUNT_PATH_2017_09,
    AuthKeys,
    CreateImageRequest,
    CreateManifestRequest,
    CreateServiceRequest,
    Image,
    Manifest,
    Model,
    Operation,
    RegenerateKeysRequest,
    RegisterModelRequest,
    Service,
    UpdateServiceRequest,
)
from mms_pulumi.schema_2017_09 import (
    CreateImageRequest2017_09,
    CreateManifestRequest2017_09,
    CreateServiceRequest2017_09,
    Deployment,
    Image2017_09,
    Manifest2017_09,
    Service2017_09,
    UpdateServiceRequest2017_09,
)

# (method, path under the account, body the client sends, model the client reads, status)
CLIENT_CALLS: list[tuple[str, str, type[BaseModel] | None, type[BaseModel] | None, str]] = [
    ("post", "/models", RegisterModelRequest, Model, "200"),
    ("get", "/models", None, Model, "200"),
    ("get", "/models/{model_id}", None, Model, "200"),
    ("post", "/manifests", CreateManifestRequest, Manifest, "200"),
    ("get", "/manifests", None, Manifest, "200"),
    ("get", "/manifests/{manifest_id}", None, Manifest, "200"),
    ("post", "/images", CreateImageRequest, None, "202"),
    ("get", "/images", None, Image, "200"),
    ("get", "/images/{image_id}", None, Image, "200"),
    ("post", "/services", CreateServiceRequest, None, "202"),
    ("put", "/services/{service_id}", UpdateServiceRequest, None, "202"),
    ("delete", "/services/{service_id}", None, None, "200"),
    ("get", "/services", None, Service, "200"),
    ("get", "/services/{service_id}", None, Service, "200"),
    ("get", "/services/{service_id}/keys", None, AuthKeys, "200"),
    ("post", "/services/{service_id}/regenerateKeys", RegenerateKeysRequest, AuthKeys, "200"),
    ("get", "/operations/{operation_id}", None, Operation, "200"),
]
# The same for 2017-09 (accounts): MmsClient2017_09's calls and models.
CLIENT_CALLS_2017_09: list[tuple[str, str, type[BaseModel] | None, type[BaseModel] | None]] = [
    ("post", "/models", RegisterModelRequest, Model),
    ("get", "/models", None, Model),
    ("get", "/models/{model_id}", None, Model),
    ("post", "/manifests", CreateManifestRequest2017_09, Manifest2017_09),
    ("get", "/manifests", None, Manifest2017_09),
    ("get", "/manifests/{manifest_id}", None, Manifest2017_09),
    ("post", "/images", CreateImageRequest2017_09, None),
    ("get", "/images", None, Image2017_09),
    ("get", "/images/{image_id}", None, Image2017_09),
    ("post", "/services", CreateServiceRequest2017_09, None),
    ("put", "/services/{service_id}", UpdateServiceRequest2017_09, None),
    ("delete", "/services/{service_id}", None, None),
    ("get", "/services", None, Service2017_09),
    ("get", "/services/{service_id}", None, Service2017_09),
    ("get", "/services/{service_id}/keys", None, AuthKeys),
    ("post", "/services/{service_id}/regenerateKeys", RegenerateKeysRequest, AuthKeys),
    ("get", "/deployments", None, Deployment),
    ("get", "/deployments/{deployment_id}", None, Deployment),
    ("get", "/operations/{operation_id}", None, Operation),
]
# Fields the emulator answers beyond what the client reads, each for a documented reason.
EXTENSIONS = {
    # numbers the images of a manifest and tags imageLocation; the rest are 2017-09's
    # (the same routes serve both generations, each answering its own fields)
    "ImageRecord": {"version", "name", "computeResourceId", "imageBuildLogUri"},
}


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    app = create_app(EmulatorSettings(data_dir=tmp_path_factory.mktemp("openapi")))
    return app.openapi()


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    if "items" in schema:  # a list answer: its items
        schema = schema["items"]
    name = schema["$ref"].rsplit("/", 1)[-1]
    return name, document["components"]["schemas"][name]


def _client_schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")


def _agree(document: dict[str, Any], served: dict[str, Any], model: type[BaseModel]) -> None:
    """Every field served is one the client reads (or a listed extension), every field the
    client requires is served, and nested objects agree the same way."""
    name, component = _resolve(document, served)
    ours = _client_schema(model)
    served_fields = set(component.get("properties", {}))
    read_fields = set(ours.get("properties", {}))
    assert served_fields - read_fields <= EXTENSIONS.get(name, set()), name
    assert set(ours.get("required", [])) <= served_fields, name
    for field in ours.get("properties", {}):
        nested = _nested_model(model, field)
        served_spec = component["properties"].get(field, {})
        if nested is not None and served_spec:
            ref = next((s for s in served_spec.get("anyOf", [served_spec]) if "$ref" in s), None)
            if ref is not None:
                _agree(document, ref, nested)


def _nested_model(model: type[BaseModel], alias: str) -> type[BaseModel] | None:
    for info in model.model_fields.values():
        if info.alias == alias:
            for candidate in (info.annotation, *getattr(info.annotation, "__args__", ())):
                if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                    return candidate
    return None


@pytest.mark.parametrize(
    ("method", "path", "request_model", "response_model", "status"),
    CLIENT_CALLS,
    ids=[f"{method} {path}" for method, path, *_ in CLIENT_CALLS],
)
def test_each_client_call_is_a_documented_operation_that_agrees_with_the_client(
    document: dict[str, Any],
    method: str,
    path: str,
    request_model: type[BaseModel] | None,
    response_model: type[BaseModel] | None,
    status: str,
) -> None:
    operation = document["paths"][ACCOUNT_PATH + path][method]
    if request_model is not None:
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        name, component = _resolve(document, body)
        assert name == request_model.__name__
        # The same JSON schema the client validates with (nested models as components).
        expected = _client_schema(request_model)
        assert component == {key: value for key, value in expected.items() if key != "$defs"}
    assert status in operation["responses"]
    if response_model is not None:
        served = operation["responses"][status]["content"]["application/json"]["schema"]
        _agree(document, served, response_model)
    errors = operation["responses"]["4XX"]["content"]["application/json"]["schema"]
    assert _resolve(document, errors)[0] == "ErrorBody"


def test_the_client_calls_every_mms_operation_the_emulator_documents(
    document: dict[str, Any],
) -> None:
    documented = {
        (method, path.removeprefix(ACCOUNT_PATH))
        for path, methods in document["paths"].items()
        if path.startswith(ACCOUNT_PATH)
        for method in methods
    }
    assert documented == {(method, path) for method, path, *_ in CLIENT_CALLS}


def test_every_2017_09_operation_is_one_the_2017_09_client_calls(
    document: dict[str, Any],
) -> None:
    documented = {
        (method, path.removeprefix(ACCOUNT_PATH_2017_09))
        for path, methods in document["paths"].items()
        if path.startswith(ACCOUNT_PATH_2017_09)
        for method in methods
    }
    assert documented == {(method, path) for method, path, *_ in CLIENT_CALLS_2017_09}
    for method, path, request_model, response_model in CLIENT_CALLS_2017_09:
        operation = document["paths"][ACCOUNT_PATH_2017_09 + path][method]
        if request_model is not None:
            body = operation["requestBody"]["content"]["application/json"]["schema"]
            assert _resolve(document, body)[0] == request_model.__name__
        if response_model is not None:
            served = next(
                operation["responses"][status]["content"]["application/json"]["schema"]
                for status in ("200", "201")
                if status in operation["responses"]
            )
            _agree(document, served, response_model)


def test_a_renamed_field_would_break_the_agreement(document: dict[str, Any]) -> None:
    """The check can fail: a client model reading a field the emulator does not serve."""

    class Renamed(Model):
        mime: str  # required, and served by nobody

    served = document["paths"][ACCOUNT_PATH + "/models/{model_id}"]["get"]["responses"]["200"]
    with pytest.raises(AssertionError):
        _agree(document, served["content"]["application/json"]["schema"], Renamed)
