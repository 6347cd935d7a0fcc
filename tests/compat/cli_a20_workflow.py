"""Drive the official azure-cli-ml 0.1.0a20 through its own functions against an endpoint.

Run as a separate process (it changes ``sys.path``, ``HOME`` and a few module globals):

    python cli_a20_workflow.py WHEEL_DIR ENDPOINT WORK_DIR RESULTS_JSON

with ``MMS_COMPAT_SUBSCRIPTION``, ``MMS_COMPAT_TOKEN``, ``MMS_COMPAT_RESOURCE_GROUP`` and
``MMS_COMPAT_ACCOUNT`` set. Every step calls the CLI's own function, so its requests are
built, its statuses checked and its answers parsed by the 2017 code, untouched. What is set
around it, and why:

- the host-account profile file and ``~/.kube/config`` the CLI reads (``az ml hostacct
  set`` and ``az ml env setup`` wrote them);
- a context whose uploads return ``file://`` URIs instead of Azure blob URLs (the
  emulator fetches those), and whose registry is given (``az ml env setup`` set it);
- ``manifest.handle_driver_file`` likewise, since it uploads straight to Azure blobs;
- the operation polling interval (5 s in the CLI) shortened, as the emulator's are;
- ``yaml.load`` given a default loader: PyYAML 6 made the argument required.

Results: a JSON list of ``{"step", "ok", "detail"}``, stopping at the first failure.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

WHEEL_DIR, ENDPOINT, WORK_DIR, RESULTS = sys.argv[1:5]
# The wheel's dist-info must be importable before pkg_resources scans sys.path: the CLI
# reads its own requirements through it.
sys.path.insert(0, WHEEL_DIR)
sys.path.insert(1, str(Path(__file__).resolve().parent))

import standins  # noqa: E402  (after the path is set)
from workflow_steps import Steps, as_uri, write_files  # noqa: E402

standins.install()

import yaml  # noqa: E402

_load = yaml.load
yaml.load = lambda stream, Loader=yaml.SafeLoader: _load(stream, Loader)  # type: ignore[assignment, misc]

work = Path(WORK_DIR)
home = work / "home"
(home / ".azure").mkdir(parents=True, exist_ok=True)
(home / ".kube").mkdir(parents=True, exist_ok=True)
os.environ["HOME"] = str(home)
os.environ["AZURE_CONFIG_DIR"] = str(home / ".azure")
(home / ".azure" / "viennaHostAccountProfile.json").write_text(
    json.dumps(
        {
            "model_management_swagger_location": f"{ENDPOINT}/swagger.json",
            "resource_group": os.environ["MMS_COMPAT_RESOURCE_GROUP"],
            "name": os.environ["MMS_COMPAT_ACCOUNT"],
        }
    )
)
(home / ".kube" / "config").write_text(
    "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://k8s.local'}}]\n"
    "users: [{name: u, user: {token: compat-kube-token}}]\n"
    "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n"
)

from azure.cli.command_modules.ml import _util, image, manifest, model  # noqa: E402
from azure.cli.command_modules.ml.service import realtime  # noqa: E402

_util.MMS_ASYNC_OPERATION_POLLING_INTERVAL_SECONDS = 0.05  # type: ignore[attr-defined]


class Context(_util.CommandLineInterfaceContext):  # type: ignore[misc, name-defined]
    """The CLI's own context, with what `az ml env setup` would have configured."""

    acr_home = "compat.azurecr.io"
    acr_user = "compat"
    acr_pw = "compat-registry-password"

    def in_local_mode(self) -> bool:
        return False

    def upload_dependency_to_azure_blob(
        self, filepath: str, container: str, asset_id: str, content_type: str = ""
    ) -> str:
        return as_uri(filepath)


manifest.handle_driver_file = lambda driver, _verbose, _context: as_uri(driver)

context = Context()
files = write_files(work)
steps = Steps(ok=lambda rc: rc == 0)
step = steps.run


def service_id_in(output: str) -> str:
    match = re.search(r"Service ID: (\S+)", output)
    assert match, output
    return match.group(1)


try:
    _, model_id = step(
        "model register",
        lambda: model._model_register(
            str(files / "model.pkl"), "model.pkl", ["compat"], None, False, context
        ),
        lambda answer: answer[0] == 0,
    )
    step("model show (id)", lambda: model._model_show(model_id, None, False, context))
    step("model show (name)", lambda: model._model_show("model.pkl", None, False, context))
    step("model list", lambda: model._model_list(None, False, context))
    _, manifest_id = step(
        "manifest create",
        lambda: manifest._manifest_create(
            "compat-manifest",
            str(files / "score.py"),
            None,
            "",
            [],
            "scikit-py",
            "",
            [model_id],
            None,
            False,
            context,
        ),
        lambda answer: answer[0] == 0,
    )
    step("manifest show", lambda: manifest._manifest_show(manifest_id, False, context))
    step("manifest list", lambda: manifest._manifest_list(False, context))
    _, image_id = step(
        "image create",
        lambda: image._image_create(
            "Docker", None, manifest_id, None, "", [], None, "", None, False, context
        ),
        lambda answer: answer[0] == 0,
    )
    step("image show", lambda: image._image_show(image_id, False, context))
    step("image list", lambda: image._image_list(False, context))
    step(
        "service create",
        lambda: realtime._realtime_service_create(
            None,
            [],
            "",
            "",
            "compat-svc",
            "",
            None,
            False,
            False,
            "",
            1,
            image_id,
            "Docker",
            None,
            False,
            context,
            True,
        ),
    )
    service_id = service_id_in(steps.output)
    step("service show", lambda: realtime._realtime_service_show(None, service_id, False, context))
    step("service list", lambda: realtime._realtime_service_list(None, True, False, context))
    step(
        "service keys",
        lambda: realtime._realtime_service_keys_handling(service_id, False, False, context),
        lambda rc: rc is None,
    )
    step(
        "service regenerate keys",
        lambda: realtime._realtime_service_keys_handling(service_id, True, False, context),
        lambda rc: rc is None,
    )
    step(
        "service run",
        lambda: realtime._realtime_service_run(
            None, service_id, '{"input": [1, 2]}', False, context
        ),
    )
    _, second_image = step(
        "image create (for update)",
        lambda: image._image_create(
            "Docker", "second", manifest_id, None, "", [], None, "", None, False, context
        ),
        lambda answer: answer[0] == 0,
    )
    step(
        "service update",
        lambda: realtime._realtime_service_update(
            service_id, second_image, "Docker", None, None, "", [], None, "", False, context
        ),
    )
    step(
        "service run (after update)",
        lambda: realtime._realtime_service_run(None, service_id, '{"input": [3]}', False, context),
    )
    step(
        "service delete",
        lambda: realtime._realtime_service_delete(None, service_id, False, context),
    )
finally:
    steps.write(RESULTS)
