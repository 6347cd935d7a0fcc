"""The real work behind operations: image builds that check files, services that score."""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.emulator.conftest import QUICKSTART, Api

CUSTOMER = {"customers": [{"tenure_months": 1, "monthly_charges": 110, "support_calls": 6}]}


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def web(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "www"
    root.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


def build(api: Api, manifest_body: dict[str, Any]) -> dict[str, Any]:
    response = api.call("POST", "manifests", manifest_body)
    assert response.status_code == 200, response.text
    return api.wait(api.call("POST", "images", api.image_body(response.json()["id"])))


def test_image_from_http_urls_builds_and_serves(api: Api, web: tuple[str, Path]) -> None:
    base, root = web
    (root / "churn-model.json").write_bytes((QUICKSTART / "churn-model.json").read_bytes())
    (root / "score.py").write_bytes((QUICKSTART / "score.py").read_bytes())
    model = api.call(
        "POST", "models", {"name": "web", "url": f"{base}/churn-model.json", "mimeType": "a/b"}
    ).json()
    body = api.manifest_body([model["id"]])
    body["assets"][0]["url"] = f"{base}/score.py"
    operation = build(api, body)
    assert operation["state"] == "Succeeded", operation
    service = api.create_service("web", operation["resourceLocation"].rsplit("/", 1)[1])
    answer = requests.post(service["scoringUri"], json=CUSTOMER, timeout=10)
    assert answer.status_code == 200
    assert answer.json()["churn"] == [True]


def test_unreadable_model_url_fails_the_build_naming_it(api: Api, web: tuple[str, Path]) -> None:
    base, _ = web
    model = api.call(
        "POST", "models", {"name": "gone", "url": f"{base}/missing.pkl", "mimeType": "a/b"}
    ).json()
    operation = build(api, api.manifest_body([model["id"]]))
    assert operation["state"] == "Failed"
    details = " ".join(d["message"] for d in operation["error"]["details"])
    assert f"model gone (id {model['id']})" in details
    assert "missing.pkl" in details and "404" in details
    image = api.call("GET", f"images/{operation['resourceLocation'].rsplit('/', 1)[1]}").json()
    assert image["creationState"] == "Failed"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (Path(tempfile.gettempdir(), "no", "such", "model.json").as_uri(), "no such file"),
        ("file:///no/such/model.json", "outside the directories the emulator may read"),
        ("file://fileserver/share/model.json", "names a file on another host"),
        ("ftp://host/model.json", "unsupported URL scheme"),
    ],
)
def test_bad_model_urls(api: Api, url: str, reason: str) -> None:
    model = api.call("POST", "models", {"name": "bad", "url": url, "mimeType": "a/b"}).json()
    operation = build(api, api.manifest_body([model["id"]]))
    assert operation["state"] == "Failed"
    assert reason in operation["error"]["details"][0]["message"]


def test_driver_program_must_be_an_asset(api: Api) -> None:
    model = api.register_model()
    operation = build(api, api.manifest_body([model["id"]], driverProgram="main"))
    assert operation["state"] == "Failed"
    assert operation["error"]["details"][0]["message"].startswith("driverProgram: 'main'")


def test_broken_driver_fails_the_build(api: Api, tmp_path: Path) -> None:
    driver = tmp_path / "score.py"
    driver.write_text("def init():\n    pass\n")
    model = api.register_model()
    body = api.manifest_body([model["id"]])
    body["assets"][0]["url"] = driver.as_uri()
    operation = build(api, body)
    assert operation["state"] == "Failed"
    assert "defines no run(input) function" in operation["error"]["details"][0]["message"]


def test_service_whose_init_fails_is_failed_with_the_last_line(api: Api, tmp_path: Path) -> None:
    driver = tmp_path / "score.py"
    driver.write_text(
        "def init():\n    raise RuntimeError('model file corrupt')\ndef run(x):\n    return x\n"
    )
    model = api.register_model()
    body = api.manifest_body([model["id"]])
    body["assets"][0]["url"] = driver.as_uri()
    image_id = build(api, body)["resourceLocation"].rsplit("/", 1)[1]
    service_body = {
        "name": "broken",
        "imageId": image_id,
        "kubeConfig": '{"kind":"Config","clusters":[]}',
        "acrImagePullSecret": "p",
    }
    operation = api.wait(api.call("POST", "services", service_body))
    assert operation["state"] == "Failed"
    assert "RuntimeError: model file corrupt" in operation["error"]["message"]
    service = api.call("GET", f"services/{operation['resourceLocation'].rsplit('/', 1)[1]}").json()
    assert service["state"] == "Failed"


def test_update_rolls_without_a_failed_request(api: Api, tmp_path: Path) -> None:
    image = api.build_image()
    service = api.create_service("rolling", image["id"])
    variant = tmp_path / "score.py"
    variant.write_text(
        (QUICKSTART / "score.py")
        .read_text()
        .replace('return {"churn_probability"', 'return {"variant": True, "churn_probability"')
    )
    model = api.register_model()
    body = api.manifest_body([model["id"]])
    body["assets"][0]["url"] = variant.as_uri()
    second = build(api, body)["resourceLocation"].rsplit("/", 1)[1]

    failures: list[str] = []
    answers: list[dict[str, Any]] = []
    stop = threading.Event()

    def hammer() -> None:
        session = requests.Session()
        while not stop.is_set():
            try:
                answer = session.post(service["scoringUri"], json=CUSTOMER, timeout=10)
            except requests.RequestException as err:
                failures.append(repr(err))
                continue
            if answer.status_code != 200:
                failures.append(f"{answer.status_code} {answer.text}")
            else:
                answers.append(answer.json())

    clients = [threading.Thread(target=hammer) for _ in range(3)]
    for client in clients:
        client.start()
    try:
        operation = api.wait(
            api.call(
                "PUT", f"services/{service['id']}", {"imageId": second, "acrImagePullSecret": "p"}
            )
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (answers and answers[-1].get("variant")):
            time.sleep(0.05)
        time.sleep(0.8)  # past the old backend's retirement
    finally:
        stop.set()
        for client in clients:
            client.join()
    assert operation["state"] == "Succeeded"
    assert failures == []
    assert any(not a.get("variant") for a in answers) and answers[-1].get("variant")


def test_failed_update_leaves_the_old_image_serving(api: Api, tmp_path: Path) -> None:
    image = api.build_image()
    service = api.create_service("keep", image["id"])
    driver = tmp_path / "score.py"
    driver.write_text(
        "def init():\n    raise ValueError('bad weights')\ndef run(x):\n    return x\n"
    )
    model = api.register_model()
    body = api.manifest_body([model["id"]])
    body["assets"][0]["url"] = driver.as_uri()
    broken = build(api, body)["resourceLocation"].rsplit("/", 1)[1]
    operation = api.wait(
        api.call("PUT", f"services/{service['id']}", {"imageId": broken, "acrImagePullSecret": "p"})
    )
    assert operation["state"] == "Failed"
    assert "ValueError: bad weights" in operation["error"]["message"]
    after = api.call("GET", f"services/{service['id']}").json()
    assert after["state"] == "Succeeded" and after["imageId"] == image["id"]
    assert requests.post(service["scoringUri"], json=CUSTOMER, timeout=10).status_code == 200


def test_deleted_service_stops_serving(api: Api) -> None:
    service = api.create_service("gone", api.build_image()["id"])
    assert requests.post(service["scoringUri"], json=CUSTOMER, timeout=10).status_code == 200
    assert api.call("DELETE", f"services/{service['id']}").status_code == 200
    # Its scoring port is closed with it; the emulator's own port says it is gone.
    with pytest.raises(requests.ConnectionError):
        requests.post(service["scoringUri"], json=CUSTOMER, timeout=10)
    forwarded = api.base_url + urlsplit(service["scoringUri"]).path
    assert requests.post(forwarded, json=CUSTOMER, timeout=10).status_code == 404


def test_archive_escaping_the_bundle_fails_the_build_naming_the_entry(
    api: Api, tmp_path: Path
) -> None:
    import zipfile

    archive = tmp_path / "model.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("../../escaped.txt", "x")
    model = api.call(
        "POST",
        "models",
        {"name": "zipped", "url": archive.as_uri(), "mimeType": "application/zip", "unpack": True},
    ).json()
    operation = build(api, api.manifest_body([model["id"]]))
    assert operation["state"] == "Failed"
    message = operation["error"]["details"][0]["message"]
    assert "model zipped" in message and "escapes the target directory" in message
    assert not (tmp_path.parent / "escaped.txt").exists()


def test_unpacked_archive_lands_in_the_bundle(api: Api, tmp_path: Path) -> None:
    import tarfile

    source = tmp_path / "weights"
    source.mkdir()
    (source / "churn-model.json").write_bytes((QUICKSTART / "churn-model.json").read_bytes())
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as bundle:
        bundle.add(source / "churn-model.json", arcname="churn-model.json")
    model = api.call(
        "POST",
        "models",
        {"name": "tarred", "url": archive.as_uri(), "mimeType": "application/gzip", "unpack": True},
    ).json()
    image_id = build(api, api.manifest_body([model["id"]]))["resourceLocation"].rsplit("/", 1)[1]
    service = api.create_service("tarred", image_id)
    answer = requests.post(service["scoringUri"], json=CUSTOMER, timeout=10)
    assert answer.status_code == 200 and answer.json()["churn"] == [True]


def test_missing_model_file_is_named_with_the_os_reason(
    api: Api, emulator: Any, tmp_path: Path
) -> None:
    url = (tmp_path / "x" / "model.pkl").as_uri()
    model = api.call("POST", "models", {"name": "churn", "url": url, "mimeType": "a/b"}).json()
    operation = build(api, api.manifest_body([model["id"]]))
    assert operation["state"] == "Failed"
    message = operation["error"]["details"][0]["message"]
    assert message.startswith(f"model churn (id {model['id']}): {url}: no such file")
    assert "No such file" in message
    took = datetime.fromisoformat(operation["endTime"]) - datetime.fromisoformat(
        operation["createdTime"]
    )
    assert took.total_seconds() >= emulator.operation_seconds  # failing fast is not ending early


def test_a_directory_is_not_a_readable_file(api: Api, tmp_path: Path) -> None:
    model = api.register_model()
    body = api.manifest_body([model["id"]])
    body["assets"].append({"id": "data", "url": tmp_path.as_uri(), "mimeType": "a/b"})
    operation = build(api, body)
    assert operation["state"] == "Failed"
    message = operation["error"]["details"][0]["message"]
    assert message == f"asset data: {tmp_path.as_uri()}: is a directory, not a file"


def test_bad_driver_and_bad_url_are_reported_together(api: Api, tmp_path: Path) -> None:
    url = (tmp_path / "gone.pkl").as_uri()
    model = api.call("POST", "models", {"name": "gone", "url": url, "mimeType": "a/b"}).json()
    operation = build(api, api.manifest_body([model["id"]], driverProgram="main"))
    assert operation["state"] == "Failed"
    messages = [d["message"] for d in operation["error"]["details"]]
    assert messages[0].startswith("driverProgram: 'main'")
    assert f"{url}: no such file" in messages[1]


def test_other_url_schemes_fail_the_build(api: Api) -> None:
    model = api.register_model()
    body = api.manifest_body([model["id"]])
    body["assets"].append({"id": "blob", "url": "s3://bucket/key.bin", "mimeType": "a/b"})
    operation = build(api, body)
    message = operation["error"]["details"][0]["message"]
    assert message.startswith("asset blob: s3://bucket/key.bin: unsupported URL scheme 's3'")


CRASHING_DRIVER = """
import os
def init():
    print("started", flush=True)
def run(data):
    if data == "die":
        os._exit(3)  # the whole process, as an out-of-memory kill would
    return {"echo": data}
"""


def test_a_crashed_scoring_process_is_restarted_and_the_state_says_so_meanwhile(
    api: Api, tmp_path: Path
) -> None:
    driver = tmp_path / "score.py"
    driver.write_text(CRASHING_DRIVER)
    body = api.manifest_body([api.register_model()["id"]])
    body["assets"][0]["url"] = driver.as_uri()
    image_id = build(api, body)["resourceLocation"].rsplit("/", 1)[1]
    service = api.create_service("crashy", image_id)
    crashed = requests.post(service["scoringUri"], json="die", timeout=10)
    assert crashed.status_code == 502 and crashed.json()["statusCode"] == 502
    seen: set[str] = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = api.call("GET", f"services/{service['id']}").json()["state"]
        seen.add(state)
        answer = requests.post(service["scoringUri"], json="again", timeout=10)
        if state == "Succeeded" and answer.status_code == 200:
            break
        assert answer.status_code in (503, 200), answer.text  # never a 404 while restarting
        time.sleep(0.05)
    assert answer.json() == {"echo": "again"}
    logs = requests.get(f"{api.base_url}/_emulator/services/{service['id']}/logs", timeout=10)
    assert logs.text.count("started") == 2  # the first process and its replacement


HANGING_DRIVER = """
import time
from pathlib import Path
def init():
    pass
def run(data):
    Path({started!r}).write_text("running")
    time.sleep(300)
    return data
"""


def test_hung_drivers_never_take_the_api_s_threads(api: Api, tmp_path: Path) -> None:
    started = tmp_path / "started"
    driver = tmp_path / "score.py"
    driver.write_text(HANGING_DRIVER.format(started=str(started)))
    body = api.manifest_body([api.register_model()["id"]])
    body["assets"][0]["url"] = driver.as_uri()
    image_id = build(api, body)["resourceLocation"].rsplit("/", 1)[1]
    service = api.create_service("hung", image_id)
    statuses: list[int] = []

    def call() -> None:
        try:
            statuses.append(requests.post(service["scoringUri"], json=1, timeout=120).status_code)
        except requests.RequestException:
            statuses.append(0)

    callers = [threading.Thread(target=call, daemon=True) for _ in range(45)]
    for caller in callers:
        caller.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not started.exists():
        time.sleep(0.05)
    assert started.exists()  # the driver hangs in a call, the others wait their turn
    # The MMS API still answers while the driver hangs: it runs in another process.
    assert api.call("GET", "models").status_code == 200
    assert api.call("DELETE", f"services/{service['id']}").status_code == 200
    for caller in callers:
        caller.join(timeout=60)
    # The call in the hung driver is answered 502 as its process is stopped, and so is any
    # the process had read and queued behind it; those it never read go to the emulator,
    # which says the service is gone.
    assert 502 in statuses, sorted(statuses)
    assert all(status in (503, 502, 404) for status in statuses), sorted(statuses)
