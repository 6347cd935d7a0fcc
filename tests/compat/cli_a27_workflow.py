"""Drive the official azure-cli-ml 0.1.0a27.post3 (2017-09, ``accounts``) through its own
functions against an endpoint. Run as a separate process:

    python cli_a27_workflow.py WHEEL_DIR ENDPOINT WORK_DIR RESULTS_JSON

with ``MMS_COMPAT_SUBSCRIPTION``, ``MMS_COMPAT_TOKEN``, ``MMS_COMPAT_RESOURCE_GROUP`` and
``MMS_COMPAT_ACCOUNT`` set. As for 0.1.0a20 (``cli_a20_workflow.py``), the CLI's request
building, accepted statuses and answer parsing are its own; around it:

- the two profile files ``az ml account modelmanagement set`` and ``az ml env set`` wrote
  (the account's URL; the compute environment in cluster mode);
- uploads as ``file://`` URIs (the context's blob upload, ``manifest.handle_driver_file``);
- the operation polling interval shortened;
- no network but loopback: ``service usage`` would send the token to Azure Resource Manager.

Results: a JSON list of ``{"step", "ok", "detail"}``, stopping at the first failure.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

WHEEL_DIR, ENDPOINT, WORK_DIR, RESULTS = sys.argv[1:5]
sys.path.insert(0, WHEEL_DIR)  # before pkg_resources scans sys.path (the CLI reads itself)
sys.path.insert(1, str(Path(__file__).resolve().parent))

import standins  # noqa: E402
from workflow_steps import Steps, as_uri, returned_zero, write_files  # noqa: E402

standins.install()

import requests  # noqa: E402

SUBSCRIPTION = os.environ["MMS_COMPAT_SUBSCRIPTION"]
GROUP = os.environ["MMS_COMPAT_RESOURCE_GROUP"]
ACCOUNT = os.environ["MMS_COMPAT_ACCOUNT"]
_send = requests.Session.send


def _loopback_only(session: requests.Session, prepared: Any, **options: Any) -> Any:
    host = urlsplit(prepared.url).hostname
    if host not in ("127.0.0.1", "localhost"):
        raise requests.ConnectionError(
            f"the compat harness allows no network but loopback ({host})"
        )
    return _send(session, prepared, **options)


requests.Session.send = _loopback_only  # type: ignore[method-assign, assignment]

work = Path(WORK_DIR)
home = work / "home"
(home / ".azure").mkdir(parents=True, exist_ok=True)
os.environ["HOME"] = str(home)
os.environ["AZURE_CONFIG_DIR"] = str(home / ".azure")
base = f"{ENDPOINT}/api/subscriptions/{SUBSCRIPTION}/resourceGroups/{GROUP}/accounts/{ACCOUNT}"
(home / ".azure" / "viennaModelManagementAccountProfile.json").write_text(
    json.dumps(
        {
            "id": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{GROUP}/providers/"
            f"Microsoft.MachineLearningModelManagement/accounts/{ACCOUNT}",
            "name": ACCOUNT,
            "model_management_swagger_location": f"{base}/swagger.json",
        }
    )
)
(home / ".azure" / "viennaOperationalizationComputeResource.json").write_text(
    json.dumps(
        {
            "current_execution_mode": "cluster",
            "resource_group": GROUP,
            "name": "compat-env",
            "subscription": SUBSCRIPTION,
        }
    )
)

from azure.cli.command_modules.ml import _util, image, manifest, model  # noqa: E402
from azure.cli.command_modules.ml.service import realtime  # noqa: E402

_util.MMS_ASYNC_OPERATION_POLLING_INTERVAL_SECONDS = 0.05  # type: ignore[attr-defined]


class Context(_util.CommandLineInterfaceContext):  # type: ignore[misc, name-defined]
    """The CLI's own context; uploads land as ``file://`` URIs the emulator reads."""

    def upload_dependency_to_azure_blob(
        self, filepath: str, container: str, asset_id: str, content_type: str = ""
    ) -> str:
        return as_uri(filepath)


manifest.handle_driver_file = lambda driver, _verbose, _context: as_uri(driver)

context = Context()
files = write_files(work)
os.chdir(files)  # the CLI wants the driver in the working directory
steps = Steps()
step = steps.run
succeeded = returned_zero


try:
    _, model_id = step(
        "model register",
        lambda: model._model_register("model.pkl", "model.pkl", ["compat"], None, False, context),
        succeeded,
    )
    step("model show (id)", lambda: model._model_show(model_id, None, False, context), succeeded)
    step(
        "model show (name)", lambda: model._model_show("model.pkl", None, False, context), succeeded
    )
    step("model list", lambda: model._model_list(None, False, context), succeeded)
    _, manifest_id = step(
        "manifest create",
        lambda: manifest._manifest_create(
            "compat-manifest",
            "score.py",
            None,
            "",
            [],
            "python",
            "",
            None,
            [model_id],
            None,
            False,
            context,
        ),
        succeeded,
    )
    step("manifest show", lambda: manifest._manifest_show(manifest_id, False, context), succeeded)
    step("manifest list", lambda: manifest._manifest_list(False, context), succeeded)

    def build(name: str) -> Any:
        return image._image_create(
            name, None, manifest_id, None, None, [], None, None, None, None, False, context
        )

    _, image_id = step("image create", lambda: build("compat-image"), succeeded)
    step("image show", lambda: image._image_show(image_id, False, context), succeeded)
    step("image list", lambda: image._image_list(False, context), succeeded)
    no_settings = (None,) * 9  # autoscale, resources, concurrency: left to the service
    _, service_id = step(
        "service create",
        lambda: realtime._realtime_service_create(
            None,
            [],
            None,
            None,
            "compat-svc",
            None,
            None,
            None,
            None,
            2,
            image_id,
            None,
            *no_settings[:8],
            False,
            context,
        ),
        succeeded,
    )
    step(
        "service show (id)",
        lambda: realtime._realtime_service_show(None, service_id, False, context),
        lambda value: value[1]["State"] == "Succeeded",
    )
    step(
        "service show (name)",
        lambda: realtime._realtime_service_show("compat-svc", None, False, context),
        lambda value: len(value[1]) == 1,
    )
    step("service list", lambda: realtime._realtime_service_list(False, context), succeeded)
    step(
        "service keys",
        lambda: realtime._realtime_service_keys_handling(service_id, False, None, False, context),
        succeeded,
    )
    step(
        "service regenerate keys",
        lambda: realtime._realtime_service_keys_handling(
            service_id, True, "Primary", False, context
        ),
        succeeded,
    )
    step(
        "service run",
        lambda: realtime._realtime_service_run(service_id, '{"input": [1, 2]}', False, context),
        succeeded,
    )
    _, second_image = step("image create (for update)", lambda: build("compat-image"), succeeded)
    step(
        "service update",
        lambda: realtime._realtime_service_update(
            service_id, second_image, None, *no_settings, False, context
        ),
        succeeded,
    )
    step(
        "service run (after update)",
        lambda: realtime._realtime_service_run(service_id, '{"input": [3]}', False, context),
        succeeded,
    )
    step(
        "service delete",
        lambda: realtime._realtime_service_delete(service_id, False, context),
        succeeded,
    )
    step(
        "service show (deleted)",
        lambda: realtime._realtime_service_show(None, service_id, False, context),
        lambda value: value[1] is None,
    )
finally:
    steps.write(RESULTS)
