"""A real emulator on loopback for the emulator's tests, and a small raw-HTTP helper."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from mms_pulumi.emulator.process import EmulatorProcess
from mms_pulumi.schema import API_VERSION_2017_09

API_VERSION = "2017-06-01-privatepreview"
QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart"
KUBE_CONFIG = json.dumps(
    {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443"}}],
        "users": [{"name": "u", "user": {"token": "kube-token"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
)


class Api:
    """Raw HTTP against one hosting account of the emulator."""

    def __init__(self, base_url: str, account: str, token: str = "test-token") -> None:
        self.base_url = base_url
        self.root = f"{base_url}/api/subscriptions/sub/resourceGroups/rg/hostingAccounts/{account}"
        self.token = token
        self.session = requests.Session()
        # The emulator's own routes want the token too when it runs with one.
        self.session.headers["Authorization"] = f"Bearer {token}"

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = "default",
        params: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> requests.Response:
        headers: dict[str, str | None] = {"Authorization": None}  # None: send none
        if token is not None:
            headers["Authorization"] = f"Bearer {self.token if token == 'default' else token}"
        url = path if path.startswith("http") else f"{self.root}/{path}"
        query = {"api-version": API_VERSION} if params is None else params
        if raw is not None:
            headers["Content-Type"] = "application/json"
            return self.session.request(
                method, url, data=raw, headers=headers, params=query, timeout=30
            )
        return self.session.request(
            method, url, json=body, headers=headers, params=query, timeout=30
        )

    def register_model(self, name: str = "churn", **extra: Any) -> dict[str, Any]:
        body = {
            "name": name,
            "url": (QUICKSTART / "churn-model.json").as_uri(),
            "mimeType": "application/json",
            **extra,
        }
        response = self.call("POST", "models", body)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def manifest_body(self, model_ids: list[str], **extra: Any) -> dict[str, Any]:
        return {
            "modelIds": model_ids,
            "modelType": "Registered",
            "driverProgram": "score",
            "assets": [
                {
                    "id": "score",
                    "url": (QUICKSTART / "score.py").as_uri(),
                    "mimeType": "application/x-python",
                }
            ],
            "targetRuntime": {"runtimeType": "ScikitPython", "properties": {}},
            **extra,
        }

    def create_manifest(self, model_ids: list[str] | None = None, **extra: Any) -> dict[str, Any]:
        if model_ids is None:
            model_ids = [self.register_model()["id"]]
        response = self.call("POST", "manifests", self.manifest_body(model_ids, **extra))
        assert response.status_code == 200, response.text
        return dict(response.json())

    def image_body(self, manifest_id: str) -> dict[str, Any]:
        return {
            "manifestId": manifest_id,
            "imageType": "Docker",
            "registryInfo": {"user": "acr", "location": "acr.local", "password": "reg-secret"},
        }

    def wait(self, response: requests.Response, timeout: float = 30) -> dict[str, Any]:
        assert response.status_code == 202, response.text
        location = response.headers["Operation-Location"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            operation = self.call("GET", f"{self.base_url}{location}").json()
            if operation["state"] in ("Succeeded", "Failed", "Cancelled"):
                return dict(operation)
            time.sleep(0.05)
        raise AssertionError(f"operation {location} did not finish")

    def build_image(self, manifest_id: str | None = None) -> dict[str, Any]:
        manifest_id = manifest_id or self.create_manifest()["id"]
        operation = self.wait(self.call("POST", "images", self.image_body(manifest_id)))
        assert operation["state"] == "Succeeded", operation
        return dict(
            self.call("GET", f"images/{operation['resourceLocation'].rsplit('/', 1)[1]}").json()
        )

    def create_service(self, name: str, image_id: str) -> dict[str, Any]:
        body = {
            "name": name,
            "imageId": image_id,
            "kubeConfig": KUBE_CONFIG,
            "acrImagePullSecret": "acr-pull",
        }
        operation = self.wait(self.call("POST", "services", body))
        assert operation["state"] == "Succeeded", operation
        return dict(
            self.call("GET", f"services/{operation['resourceLocation'].rsplit('/', 1)[1]}").json()
        )


COMPUTE = (
    "/subscriptions/sub/resourcegroups/rg/providers/Microsoft.MachineLearningCompute"
    "/operationalizationClusters/c1"
)


class Api2017_09(Api):
    """Raw HTTP against one 2017-09 account (``accounts`` paths, api-version required)."""

    def __init__(self, base_url: str, account: str) -> None:
        super().__init__(base_url, account)
        self.root = f"{base_url}/api/subscriptions/sub/resourceGroups/rg/accounts/{account}"

    def call(self, method: str, path: str, body: Any = None, **options: Any) -> requests.Response:
        options.setdefault("params", {"api-version": API_VERSION_2017_09})
        return super().call(method, path, body, **options)

    def manifest(
        self, name: str = "churn", driver: Path | None = None, **extra: Any
    ) -> dict[str, Any]:
        model = self.register_model()
        body = {
            "name": name,
            "driverProgram": "score",
            "modelIds": [model["id"]],
            "assets": [
                {
                    "id": "score",
                    "url": (driver or QUICKSTART / "score.py").as_uri(),
                    "mimeType": "application/x-python",
                }
            ],
            "targetRuntime": {"runtimeType": "Python", "properties": {}},
            **extra,
        }
        answer = self.call("POST", "manifests", body)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def image(self, manifest_id: str, name: str = "churn-image") -> dict[str, Any]:
        body = {
            "name": name,
            "manifestId": manifest_id,
            "imageType": "Docker",
            "computeResourceId": COMPUTE,
        }
        operation = self.wait(self.call("POST", "images", body))
        assert operation["state"] == "Succeeded", operation
        image_id = operation["resourceLocation"].rsplit("/", 1)[1]
        return dict(self.call("GET", f"images/{image_id}").json())

    def service(self, name: str, image_id: str, **settings: Any) -> dict[str, Any]:
        body = {
            "name": name,
            "imageId": image_id,
            "computeResource": {"id": COMPUTE, "type": "Cluster"},
            **settings,
        }
        operation = self.wait(self.call("POST", "services", body))
        assert operation["state"] == "Succeeded", operation
        service_id = operation["resourceLocation"].rsplit("/", 1)[1]
        return dict(self.call("GET", f"services/{service_id}").json())


@pytest.fixture
def api(emulator: EmulatorProcess) -> Api:
    """A fresh hosting account on the shared emulator (accounts isolate objects)."""
    return Api(emulator.base_url, f"acct-{uuid.uuid4().hex[:8]}")
