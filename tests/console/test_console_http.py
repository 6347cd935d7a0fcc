"""The console's rules over HTTP, against a real emulator with a ``--token``: the token
prompt, sessions, CSRF, the Host and Origin rules, escaping, and no secret shown unasked."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from mms_pulumi.emulator.console import security
from mms_pulumi.emulator.process import EmulatorProcess
from tests.emulator.conftest import Api, Api2017_09

TOKEN = "console-token-5b1f0c"
HOSTILE = "<img src=x onerror=alert(1)>"
pytestmark = pytest.mark.emulator(operation_seconds=0.05, token=TOKEN, secrets=(TOKEN,))


@pytest.fixture(scope="module")
def deployed(emulator: EmulatorProcess) -> dict[str, str]:
    """A 2017-09 chain whose model has a hostile name, deployed through the API."""
    api = Api2017_09(emulator.base_url, "console-http")
    api.token = TOKEN
    api.register_model(HOSTILE, tags=[HOSTILE])
    manifest = api.manifest()
    image = api.image(manifest["id"])
    service = api.service("svc", image["id"])
    keys = api.call("GET", f"services/{service['id']}/keys").json()
    return {
        "console": f"{emulator.base_url}/_emulator/console",
        "account": f"{emulator.base_url}/_emulator/console/accounts/sub/rg/console-http",
        "service": service["id"],
        "primary": keys["primaryKey"],
        "secondary": keys["secondaryKey"],
    }


@pytest.fixture
def browser(deployed: dict[str, str]) -> Iterator[requests.Session]:
    """A signed-in session, as a browser holds it (cookie, no Authorization header)."""
    session = requests.Session()
    answer = session.post(
        f"{deployed['console']}/login", data={"token": TOKEN}, allow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    yield session
    session.close()


def csrf_of(html: str) -> str:
    found = re.search(r'name="mms-console-csrf" content="([0-9a-f]+)"', html)
    assert found, "the page carries its CSRF token"
    return found.group(1)


def test_the_console_asks_for_the_token_and_keeps_it_out_of_cookies_and_urls(
    deployed: dict[str, str],
) -> None:
    anonymous = requests.get(f"{deployed['console']}/", allow_redirects=False, timeout=30)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/_emulator/console/login"
    assert (
        requests.get(f"{deployed['account']}", allow_redirects=False, timeout=30).status_code == 303
    )
    wrong = requests.post(f"{deployed['console']}/login", data={"token": "nope"}, timeout=30)
    assert wrong.status_code == 401 and "not this emulator&#39;s token" in wrong.text
    right = requests.post(
        f"{deployed['console']}/login", data={"token": TOKEN}, allow_redirects=False, timeout=30
    )
    assert right.status_code == 303 and right.headers["location"] == "/_emulator/console/"
    cookie = right.headers["set-cookie"]
    assert TOKEN not in cookie and TOKEN not in right.headers["location"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    # A bearer header is as good as the form (curl), and the emulator's routes still want it.
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert requests.get(f"{deployed['console']}/", headers=bearer, timeout=30).status_code == 200


def test_pages_escape_hostile_names_and_carry_a_strict_policy(
    browser: requests.Session, deployed: dict[str, str]
) -> None:
    page = browser.get(deployed["account"], timeout=30)
    assert page.status_code == 200
    assert "<img" not in page.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    # A filter echoed back is escaped too.
    filtered = browser.get(deployed["account"], params={"name": HOSTILE}, timeout=30)
    assert "<img" not in filtered.text and 'value="&lt;img' in filtered.text


def test_no_key_is_on_a_page_until_asked_for_with_the_csrf_token(
    browser: requests.Session, deployed: dict[str, str]
) -> None:
    service_page = f"{deployed['account']}/services/{deployed['service']}"
    page = browser.get(service_page, timeout=30)
    assert page.status_code == 200
    assert deployed["primary"] not in page.text and deployed["secondary"] not in page.text
    refused = browser.post(f"{service_page}/keys", data={"csrf": "0" * 64}, timeout=30)
    assert refused.status_code == 403 and deployed["primary"] not in refused.text
    shown = browser.post(f"{service_page}/keys", data={"csrf": csrf_of(page.text)}, timeout=30)
    assert shown.status_code == 200
    assert deployed["primary"] in shown.text and deployed["secondary"] in shown.text
    assert shown.headers["cache-control"] == "no-store"


def test_state_changes_need_the_session_the_token_and_the_same_origin(
    browser: requests.Session, deployed: dict[str, str]
) -> None:
    service_page = f"{deployed['account']}/services/{deployed['service']}"
    csrf = csrf_of(browser.get(service_page, timeout=30).text)
    score = f"{service_page}/score"
    body = b'{"customers": [{"tenure_months": 3, "monthly_charges": 95.0, "support_calls": 4}]}'
    headers = {"Content-Type": "application/json"}
    assert browser.post(score, data=body, headers=headers, timeout=30).status_code == 403
    forged = {**headers, security.CSRF_HEADER: "f" * 64}
    assert browser.post(score, data=body, headers=forged, timeout=30).status_code == 403
    good = {**headers, security.CSRF_HEADER: csrf}
    other_origin = {**good, "Origin": "http://evil.example"}
    assert browser.post(score, data=body, headers=other_origin, timeout=30).status_code == 403
    rebound = {**good, "Host": "evil.example"}
    assert browser.post(score, data=body, headers=rebound, timeout=30).status_code == 403
    # Another browser's CSRF token is not this one's.
    stranger = requests.post(score, data=body, headers=good, timeout=30)
    assert stranger.status_code == 401
    answer = browser.post(score, data=body, headers=good, timeout=30)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["status"] == 200 and result["latencyMs"] > 0
    assert "churn_probability" in result["body"]
    assert deployed["primary"] not in answer.text
    bad = browser.post(score, data=b"{not json", headers=good, timeout=30)
    assert bad.status_code == 400 and "not JSON" in bad.json()["message"]


def test_hostile_requests_get_a_4xx_in_the_seed_shape(
    browser: requests.Session, deployed: dict[str, str]
) -> None:
    assert browser.get(f"{deployed['console']}/static/../app.py", timeout=30).status_code == 404
    assert browser.get(f"{deployed['console']}/static/secrets.txt", timeout=30).status_code == 404
    unknown = browser.get(f"{deployed['console']}/nope/sub/rg/acct", timeout=30)
    assert unknown.status_code == 404 and "No account family" in unknown.json()["message"]
    page = browser.get(
        f"{deployed['console']}/nope/sub/rg/acct", headers={"Accept": "text/html"}, timeout=30
    )
    assert page.status_code == 404 and "<h1>404 NotFound</h1>" in page.text
    missing = browser.get(f"{deployed['account']}/services/no-such-service", timeout=30)
    assert missing.status_code == 404
    huge = browser.post(f"{deployed['console']}/login", data={"token": "x" * (2 << 20)}, timeout=30)
    assert huge.status_code == 413 and huge.json()["code"]
    many = "&".join(f"f{n}=1" for n in range(1000))
    fields = browser.post(
        f"{deployed['console']}/logout",
        data=many,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=30,
    )
    assert fields.status_code == 400
    regenerate = f"{deployed['account']}/services/{deployed['service']}/regenerateKeys"
    legacy = regenerate.replace("/accounts/", "/hostingAccounts/")
    csrf = csrf_of(browser.get(deployed["account"], timeout=30).text)
    # The same service id under a hostingAccounts path is another account's: none there.
    legacy_answer = browser.post(legacy, data={"csrf": csrf, "keyType": "Primary"}, timeout=30)
    assert legacy_answer.status_code == 404
    assert (
        browser.post(regenerate, data={"csrf": csrf, "keyType": "Tertiary"}, timeout=30).status_code
        == 400
    )


def test_a_2017_06_chain_has_the_same_pages(
    browser: requests.Session, emulator: EmulatorProcess, deployed: dict[str, str]
) -> None:
    api = Api(emulator.base_url, "legacy-console", token=TOKEN)
    image = api.build_image()
    service = api.create_service("legacy-svc", image["id"])
    account = f"{deployed['console']}/hostingAccounts/sub/rg/legacy-console"
    listed = browser.get(f"{deployed['console']}/", timeout=30)
    assert 'href="/_emulator/console/hostingAccounts/sub/rg/legacy-console"' in listed.text
    page = browser.get(f"{account}/services/{service['id']}", timeout=30)
    assert page.status_code == 200
    assert page.text.count('class="node ok"') == 4
    assert "Regenerate the primary key" in page.text
    image_page = browser.get(f"{account}/images/{image['id']}", timeout=30)
    assert image_page.status_code == 200 and "build Succeeded" in image_page.text
    # The registry password given at build time is kept nowhere, so shown nowhere.
    assert "reg-secret" not in image_page.text and "reg-secret" not in page.text


def test_signing_out_ends_the_session_a_copied_cookie_included(
    deployed: dict[str, str],
) -> None:
    session = requests.Session()
    session.post(f"{deployed['console']}/login", data={"token": TOKEN}, timeout=30)
    copied = dict(session.cookies)
    csrf = csrf_of(session.get(f"{deployed['console']}/", timeout=30).text)
    out = session.post(
        f"{deployed['console']}/logout", data={"csrf": csrf}, allow_redirects=False, timeout=30
    )
    assert out.status_code == 303 and "SameSite=strict" in out.headers["set-cookie"]
    again = requests.get(
        f"{deployed['console']}/", cookies=copied, allow_redirects=False, timeout=30
    )
    assert again.status_code == 303 and again.headers["location"].endswith("/login")


def test_the_score_box_neither_deadlocks_nor_asks_a_proxy(
    browser: requests.Session, deployed: dict[str, str]
) -> None:
    service_page = f"{deployed['account']}/services/{deployed['service']}"
    csrf = csrf_of(browser.get(service_page, timeout=30).text)
    headers = {"Content-Type": "application/json", security.CSRF_HEADER: csrf}
    # More scores at once than the default thread pool has threads: each still answers.
    with ThreadPoolExecutor(max_workers=48) as pool:
        answers = list(
            pool.map(
                lambda _: browser.post(f"{service_page}/score", data=b"{}", headers=headers),
                range(48),
            )
        )
    assert {answer.status_code for answer in answers} == {200}
    statuses = {answer.json()["status"] for answer in answers}
    assert statuses <= {400, 503}, statuses  # the driver's 400 for {}, or no free slot
    huge = browser.post(f"{service_page}/score", data=b"1" * 5000, headers=headers, timeout=30)
    assert huge.status_code == 400 and "4300 digits" in huge.json()["message"]
