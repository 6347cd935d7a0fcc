"""The console in a real Chromium: a chain deployed through the API, followed from the
accounts page to the chain view, a failed build's log, a score from the box, a key
regenerated behind a confirmation, and a hostile model name that stays text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Page, expect

from mms_pulumi.emulator.process import EmulatorProcess
from tests.emulator.conftest import COMPUTE, Api2017_09

HOSTILE = "<img src=x onerror=alert(1)>"
# A driver that says what it does, so the service's log has something to show.
TALKING_DRIVER = (
    "def init():\n"
    "    print('driver ready', flush=True)\n\n\n"
    "def run(data):\n"
    "    print('scored', data, flush=True)\n"
    "    return {'echo': data, 'sum': sum(data['numbers'])}\n"
)
pytestmark = pytest.mark.emulator(operation_seconds=0.05)


@pytest.fixture(scope="module")
def chain(emulator: EmulatorProcess, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A 2017-09 chain with a talking driver, and a failed build beside it."""
    driver = tmp_path_factory.mktemp("console-driver") / "score.py"
    driver.write_text(TALKING_DRIVER)
    api = Api2017_09(emulator.base_url, "browser")
    manifest = api.manifest(name="talking", driver=driver)
    image = api.image(manifest["id"], name="talking-image")
    service = api.service("talking-svc", image["id"])
    broken = api.manifest(name="broken", driver=Path("/nonexistent-root/score.py"))
    failed = api.wait(
        api.call(
            "POST",
            "images",
            {
                "name": "broken-image",
                "manifestId": broken["id"],
                "imageType": "Docker",
                "computeResourceId": COMPUTE,
            },
        )
    )
    assert failed["state"] == "Failed", failed
    return {"api": api, "service": service, "image": image, "manifest": manifest}


def console(emulator: EmulatorProcess) -> str:
    return f"{emulator.base_url}/_emulator/console/"


def open_service(page: Page, emulator: EmulatorProcess) -> None:
    """From the accounts page to the service's page, by links, as a user goes."""
    page.goto(console(emulator))
    page.get_by_role("link", name="browser", exact=True).click()
    page.get_by_role("link", name="talking-svc").click()
    expect(page.locator("h1")).to_contain_text("Service talking-svc")


def test_the_chain_view_shows_how_a_service_got_there(
    page: Page, emulator: EmulatorProcess, chain: dict[str, Any]
) -> None:
    open_service(page, emulator)
    nodes = page.locator("svg#chain a.node")
    expect(nodes).to_have_count(4)
    kinds = [nodes.nth(n).get_attribute("data-kind") for n in range(4)]
    assert kinds == ["model", "manifest", "image", "service"]
    for n in range(4):
        expect(nodes.nth(n).locator("text.state-label")).to_have_text("Succeeded")
    assert page.locator("svg#chain line.edge").count() == 3
    expect(page.locator("#chain-nodes")).to_contain_text(chain["image"]["id"])
    expect(page.locator("#chain-nodes")).to_contain_text("image build")
    # The image's node leads to its page and its build log.
    page.locator('svg#chain a.node[data-kind="image"]').click()
    expect(page.locator("h1")).to_contain_text("talking-image")
    expect(page.locator("#build-log")).to_contain_text("build Succeeded")
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_failed_build_shows_its_error_and_its_log(
    page: Page, emulator: EmulatorProcess, chain: dict[str, Any]
) -> None:
    page.goto(console(emulator))
    page.get_by_role("link", name="browser", exact=True).click()
    page.get_by_label("name contains").fill("broken")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#images tbody tr")).to_have_count(1)
    expect(page.locator("#services")).to_contain_text("No service matches")
    page.get_by_role("link", name="broken-image").click()
    expect(page.locator("#image-state")).to_have_text("Failed")
    expect(page.locator("#image-error")).to_contain_text("outside the directories")
    expect(page.locator("#build-log")).to_contain_text("build Failed")
    # The timeline on the account page has the failure in red, with its error.
    page.go_back()
    failed = page.locator('svg#timeline g.bar[data-state="Failed"]')
    expect(failed).to_have_count(1)
    assert "failed" in (failed.get_attribute("class") or "")


def test_the_score_box_calls_the_endpoint_and_the_log_follows(
    page: Page, emulator: EmulatorProcess, chain: dict[str, Any]
) -> None:
    open_service(page, emulator)
    page.locator("#score-input").fill('{"numbers": [1, 2, 39]}')
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#score-status")).to_contain_text("HTTP 200 in")
    expect(page.locator("#score-answer")).to_contain_text('"sum": 42')
    # The live log picks up the driver's print without a reload.
    expect(page.locator("#service-log")).to_contain_text("scored {'numbers': [1, 2, 39]}")
    page.locator("#score-input").fill("{not json")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#score-status")).to_contain_text("not JSON")


def test_a_key_is_regenerated_only_once_confirmed(
    page: Page, emulator: EmulatorProcess, chain: dict[str, Any]
) -> None:
    api: Api2017_09 = chain["api"]
    service = chain["service"]
    before = api.call("GET", f"services/{service['id']}/keys").json()
    open_service(page, emulator)
    assert before["primaryKey"] not in page.content()
    # Dismissed: nothing changes.
    page.get_by_role("button", name="Regenerate the primary key").click()
    assert "Regenerate the primary key of talking-svc?" in page.dialogs[-1]  # type: ignore[attr-defined]
    assert api.call("GET", f"services/{service['id']}/keys").json() == before
    # Accepted: the old primary key is refused from now on, the secondary still works.
    page.dialog_answers.append(True)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Regenerate the primary key").click()
    expect(page.locator("#notice")).to_contain_text("primary key was regenerated")
    after = api.call("GET", f"services/{service['id']}/keys").json()
    assert after["primaryKey"] != before["primaryKey"]
    assert after["secondaryKey"] == before["secondaryKey"]
    assert before["primaryKey"] not in page.content()

    def score(key: str) -> int:
        answer = requests.post(
            service["scoringUri"],
            json={"numbers": [1]},
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        return answer.status_code

    assert score(before["primaryKey"]) == 401
    assert score(after["primaryKey"]) == 200
    # Shown only when asked for.
    page.get_by_role("button", name="Show the keys").click()
    expect(page.locator("#primary-key")).to_have_text(after["primaryKey"])


def test_a_hostile_model_name_renders_as_text(
    page: Page, emulator: EmulatorProcess, chain: dict[str, Any]
) -> None:
    api: Api2017_09 = chain["api"]
    api.register_model(HOSTILE, tags=[HOSTILE], description=HOSTILE)
    page.goto(console(emulator))
    page.get_by_role("link", name="browser", exact=True).click()
    expect(page.locator("#models")).to_contain_text(HOSTILE)
    assert page.locator("img").count() == 0
    # Its tag is a filter link; following it keeps the name text too.
    page.get_by_role("link", name=HOSTILE).click()
    expect(page.locator("#models tbody tr")).to_have_count(1)
    expect(page.locator('input[name="tag"]')).to_have_value(HOSTILE)
    assert page.locator("img").count() == 0
    assert page.dialogs == []  # type: ignore[attr-defined]
    assert page.errors == []  # type: ignore[attr-defined]
