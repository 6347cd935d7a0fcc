"""Quickstart: deploy a churn model as model → manifest → image → service.

With no ``mms:endpoint`` configured, the resources run against the local MMS emulator,
started on demand (and reused) with its state in ``.mms-emulator`` at the project root
(the directory of the ``Pulumi.yaml`` you run: the repository root through
``scripts/pulumi``, or this directory when run from here).
"""

from __future__ import annotations

from pathlib import Path

import pulumi

from mms_pulumi import Image, Manifest, Model, Service
from mms_pulumi.local import LOCAL_KUBE_CONFIG

HERE = Path(__file__).resolve().parent

# With no kubeConfig, the local emulator's (it never contacts a cluster). With a real MMS
# account, set your own: `pulumi config set --secret kubeConfig "$(cat ~/.kube/config)"`.
config = pulumi.Config()
service_name = config.get("serviceName") or "churn"
kube_config = config.get_secret("kubeConfig") or pulumi.Output.secret(LOCAL_KUBE_CONFIG)
registry_password = config.get_secret("registryPassword") or pulumi.Output.secret(
    "local-registry-password"
)

model = Model(
    "churn-model",
    name="churn",
    url=(HERE / "churn-model.json").as_uri(),
    mime_type="application/json",
    description=config.get("modelDescription") or "Churn probability from tenure, charges, calls",
    tags=["quickstart"],
)

manifest = Manifest(
    "churn-manifest",
    model_ids=[model.id],
    driver_program="score",
    assets=[
        {"id": "score", "url": (HERE / "score.py").as_uri(), "mime_type": "application/x-python"}
    ],
    target_runtime={"runtime_type": "ScikitPython", "properties": {}},
    description="Churn model served by score.py",
)

image = Image(
    "churn-image",
    manifest_id=manifest.id,
    registry_info={
        "user": "quickstart",
        "location": "registry.local.invalid",
        "password": registry_password,
    },
)

service = Service(
    "churn-svc",
    name=service_name,
    image_id=image.id,
    manifest_id=manifest.id,
    kube_config=kube_config,
    acr_image_pull_secret=config.get("imagePullSecret") or "acr-pull",
)

pulumi.export("model_id", model.id)
pulumi.export("model_version", model.version)
pulumi.export("manifest_id", manifest.id)
pulumi.export("image_id", image.id)
pulumi.export("service_id", service.id)
pulumi.export("service_state", service.state)
pulumi.export("scoring_uri", service.scoring_uri)
# A secret output: `pulumi stack output primary_key --show-secrets` prints it.
pulumi.export("primary_key", service.primary_key)
