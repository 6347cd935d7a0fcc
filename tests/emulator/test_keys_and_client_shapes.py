"""What the official 2017 CLI needs beyond the seed's text: scoring keys on hostingAccounts
services (read, regenerated, honoured by the scoring endpoint), the service's embedded
``image``, and what it sent (names with dots, ``description: null``). Against the real
emulator on loopback."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.emulator.conftest import Api


@pytest.fixture(scope="module")
def served(emulator: Any) -> tuple[Api, dict[str, Any]]:
    api = Api(emulator.base_url, "keys")
    image = api.build_image()
    return api, api.create_service("keyed", image["id"])


def _score(service: dict[str, Any], key: str | None) -> requests.Response:
    headers = {} if key is None else {"Authorization": f"Bearer {key}"}
    body = {"customers": [{"tenure_months": 3, "monthly_charges": 95.0, "support_calls": 4}]}
    return requests.post(service["scoringUri"], json=body, headers=headers, timeout=30)


def test_a_service_has_two_keys_and_the_scoring_endpoint_honours_them(
    served: tuple[Api, dict[str, Any]],
) -> None:
    api, service = served
    keys = api.call("GET", f"services/{service['id']}/keys").json()
    assert set(keys) == {"primaryKey", "secondaryKey"}
    assert keys["primaryKey"] != keys["secondaryKey"]
    assert _score(service, keys["primaryKey"]).status_code == 200
    assert _score(service, keys["secondaryKey"]).status_code == 200
    refused = _score(service, "not-a-key")
    assert refused.status_code == 401 and refused.json()["statusCode"] == 401
    assert "not-a-key" not in refused.text
    assert _score(service, None).status_code == 200  # the seed documents no keys
    # Keys never show on the service itself.
    shown = api.call("GET", f"services/{service['id']}").text
    assert keys["primaryKey"] not in shown and keys["secondaryKey"] not in shown


def test_regenerating_without_a_body_replaces_both_and_with_a_key_type_only_that_one(
    served: tuple[Api, dict[str, Any]],
) -> None:
    api, service = served
    path = f"services/{service['id']}"
    before = api.call("GET", f"{path}/keys").json()
    both = api.call("POST", f"{path}/regenerateKeys").json()  # as the 2017 CLI: no body
    assert both["primaryKey"] != before["primaryKey"]
    assert both["secondaryKey"] != before["secondaryKey"]
    assert _score(service, before["primaryKey"]).status_code == 401
    primary = api.call("POST", f"{path}/regenerateKeys", {"keyType": "Primary"}).json()
    assert primary["primaryKey"] != both["primaryKey"]
    assert primary["secondaryKey"] == both["secondaryKey"]
    assert api.call("GET", f"{path}/keys").json() == primary
    bad = api.call("POST", f"{path}/regenerateKeys", {"keyType": "Tertiary"})
    assert bad.status_code == 400 and "keyType" in bad.text


def test_keys_of_an_unknown_service_are_404(served: tuple[Api, dict[str, Any]]) -> None:
    api, _ = served
    assert api.call("GET", "services/nope/keys").status_code == 404
    assert api.call("POST", "services/nope/regenerateKeys").status_code == 404


def test_a_service_embeds_its_image_as_the_2017_cli_reads_it(
    served: tuple[Api, dict[str, Any]],
) -> None:
    api, service = served
    for shown in (
        api.call("GET", f"services/{service['id']}").json(),
        api.call("GET", "services").json()[0],
    ):
        assert shown["image"]["id"] == shown["imageId"] == service["imageId"]
        assert "password" not in shown["image"].get("registryInfo", {})


def test_names_with_dots_and_null_descriptions_are_accepted(emulator: Any) -> None:
    api = Api(emulator.base_url, "dots")
    model = api.register_model("model.pkl", description=None)
    assert model["name"] == "model.pkl" and model["description"] == ""
    manifest = api.manifest_body([model["id"]], description=None, name=None)
    manifest["assets"][0]["id"] = "score.py"
    manifest["driverProgram"] = "score.py"
    answer = api.call("POST", "manifests", manifest)
    assert answer.status_code == 200, answer.text
    assert answer.json()["description"] == ""
    for refused in ("has space", "tab\there", "x" * 33):
        assert api.call("POST", "models", {**_model(refused)}).status_code == 400


def _model(name: str) -> dict[str, Any]:
    return {"name": name, "url": "file:///m.json", "mimeType": "application/json"}
