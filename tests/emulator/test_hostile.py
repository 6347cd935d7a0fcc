"""Hostile requests get a 4xx in the seed's error shape with a request id, never a 500.

Against the real emulator on loopback, started with a token.
"""

from __future__ import annotations

import http.client
from typing import Any
from urllib.parse import urlsplit

import pytest

from mms_pulumi.emulator.process import EmulatorProcess
from tests.emulator.conftest import KUBE_CONFIG, Api

TOKEN = "hostile-token"

pytestmark = pytest.mark.emulator(operation_seconds=0.05, token=TOKEN)


@pytest.fixture(scope="module")
def api(emulator: EmulatorProcess) -> Api:
    return Api(emulator.base_url, "hostile", token=TOKEN)


def _seed_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = dict(response.json())
    assert set(body) == {"code", "message", "statusCode", "details"}
    assert body["statusCode"] == status
    assert response.headers.get("x-ms-request-id")
    return body


@pytest.mark.parametrize(
    ("name", "rule"),
    [("bad\x00name", "letters, digits"), ("x" * 200_000, "at most 63"), ("tab\tname", "letters")],
    ids=["nul", "200k", "tab"],
)
def test_a_hostile_service_name_is_a_400_naming_the_field(api: Api, name: str, rule: str) -> None:
    body = {"name": name, "imageId": "i", "kubeConfig": KUBE_CONFIG, "acrImagePullSecret": "p"}
    error = _seed_error(api.call("POST", "services", body), 400)
    messages = [detail["message"] for detail in error["details"]]
    assert any(m.startswith("name:") and rule in m for m in messages), messages
    assert "x" * 100 not in str(error)


@pytest.mark.parametrize("url", ["file:///tmp/a\x00b", "file:///tmp/a\nb", "http://h/\x7f"])
def test_a_url_with_a_control_character_is_a_400(api: Api, url: str) -> None:
    body = {"name": "m", "url": url, "mimeType": "a/b"}
    error = _seed_error(api.call("POST", "models", body), 400)
    assert "url: must contain no control characters" in str(error["details"])


def test_a_non_ascii_bearer_token_is_a_401_not_a_500(api: Api) -> None:
    parts = urlsplit(api.root)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        connection.putrequest("GET", f"{parts.path}/models")
        connection.putheader("Authorization", "Bearer t\u00e9st\u2603".encode())
        connection.endheaders()
        answer = connection.getresponse()
        status, headers, text = answer.status, dict(answer.getheaders()), answer.read()
    finally:
        connection.close()
    assert status == 401, text
    assert headers.get("x-ms-request-id")


def test_a_deeply_nested_kubeconfig_is_a_400(api: Api) -> None:
    body = {
        "name": "deep",
        "imageId": "i",
        "kubeConfig": "[" * 5000 + "]" * 5000,
        "acrImagePullSecret": "p",
    }
    error = _seed_error(api.call("POST", "services", body), 400)
    assert "kubeConfig: is nested more than 64 levels deep" in str(error["details"])
