"""With ``--token``, every route the app serves refuses a missing or wrong token.

The routes are enumerated from the app itself (its OpenAPI paths and FastAPI's own docs
routes), so a route added later is covered without anyone remembering this test; only the
documented health probe answers without the token.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests

from mms_pulumi.emulator.app import create_app
from mms_pulumi.emulator.middleware import OPEN_PATHS, needs_emulator_token
from mms_pulumi.emulator.process import EmulatorProcess
from mms_pulumi.emulator.settings import EmulatorSettings
from tests.emulator.conftest import Api

TOKEN = "routes-token"
pytestmark = pytest.mark.emulator(operation_seconds=0.05, token=TOKEN)


def _routes(tmp_path: Path) -> list[tuple[str, str]]:
    app = create_app(EmulatorSettings(data_dir=tmp_path))
    routes = [
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    ]
    docs = [app.docs_url, app.redoc_url, app.openapi_url, app.swagger_ui_oauth2_redirect_url]
    return routes + [("GET", url) for url in docs if url] + [("GET", "/no/such/route")]


@pytest.fixture(scope="module")
def service_id(emulator: EmulatorProcess) -> str:
    api = Api(emulator.base_url, "routes", token=TOKEN)
    return str(api.create_service("guarded", api.build_image()["id"])["id"])


def test_every_route_but_the_health_probe_refuses_a_missing_or_wrong_token(
    emulator: EmulatorProcess, service_id: str, tmp_path: Path
) -> None:
    routes = _routes(tmp_path)
    assert len(routes) > 40 and any("/swagger.json" in path for _, path in routes)
    let_through = []
    for method, template in routes:
        path = re.sub(r"\{service_id\}", service_id, template)
        path = re.sub(r"\{[a-z_]+\}", "x", path)
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            answer = requests.request(
                method,
                f"{emulator.base_url}{path}",
                headers=headers,
                params={"api-version": "2017-06-01-privatepreview"},
                json={} if method in ("POST", "PUT") else None,
                timeout=30,
            )
            if template in OPEN_PATHS:
                assert answer.status_code == 200
            elif answer.status_code != 401:
                let_through.append((method, template, headers, answer.status_code))
    assert let_through == []
    # The reset above was refused: the service is still there.
    api = Api(emulator.base_url, "routes", token=TOKEN)
    assert api.call("GET", f"services/{service_id}").status_code == 200


def test_the_right_token_opens_the_scoring_routes(
    emulator: EmulatorProcess, service_id: str
) -> None:
    base = f"{emulator.base_url}/api/v1/service/{service_id}"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert requests.get(f"{base}/", headers=auth, timeout=30).status_code == 200
    assert requests.get(f"{base}/swagger.json", headers=auth, timeout=30).status_code in (
        200,
        404,  # no schema in the quickstart image: the route answered, past the token
    )


@pytest.mark.parametrize(
    ("path", "checked_here"),
    [
        ("/_emulator/health", False),
        ("/_emulator/stats", True),
        ("/docs", True),
        ("/openapi.json", True),
        ("/anything", True),
        ("/api/subscriptions/s/resourceGroups/r/hostingAccounts/a/models", False),
        ("/api/v1/service/x/score", False),
    ],
)
def test_which_paths_the_middleware_checks(path: str, checked_here: bool) -> None:
    assert needs_emulator_token(path) is checked_here
