"""Replicas: a model served by two scoring processes on the 2017-09-01-preview API.

The account speaks ``accounts`` / 2017-09 (set here with ``AccountArgs``; a stack can set
``mms:apiVersion`` instead): manifests and images are named, the image targets a compute
resource, and the service runs ``replicas`` scoring processes behind one ``scoringUri``
that wants ``Authorization: Bearer <primary_key>``. The key is a secret output:

    pulumi stack output primary_key --show-secrets

With no ``mms:endpoint``, the local MMS emulator is started on demand.
"""

from __future__ import annotations

from pathlib import Path

import pulumi

from mms_pulumi import AccountArgs, AssetArgs, Image, Manifest, Model, Service
from mms_pulumi.schema import API_VERSION_2017_09

HERE = Path(__file__).resolve().parent
# The ARM id of the ML compute environment the image and service target (any id works on
# the local emulator; with a real account, `pulumi config set computeResourceId ...`).
LOCAL_COMPUTE = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/local/providers"
    "/Microsoft.MachineLearningCompute/operationalizationClusters/local"
)

config = pulumi.Config()
compute = config.get("computeResourceId") or LOCAL_COMPUTE
account = AccountArgs(api_version=API_VERSION_2017_09)

model = Model(
    "threshold-model",
    name="threshold",
    url=(HERE / "threshold.json").as_uri(),
    mime_type="application/json",
    account=account,
)
manifest = Manifest(
    "threshold-manifest",
    name="threshold",
    model_ids=[model.id],
    driver_program="score",
    assets=[AssetArgs(id="score", url=(HERE / "score.py").as_uri(), mime_type="x-python")],
    target_runtime={"runtime_type": "Python"},
    account=account,
)
image = Image(
    "threshold-image",
    name="threshold",
    manifest_id=manifest.id,
    compute_resource_id=compute,
    account=account,
)
service = Service(
    "threshold-svc",
    name=config.get("serviceName") or "threshold",
    image_id=image.id,
    compute_resource={"id": compute},
    num_replicas=config.get_int("replicas") or 2,
    primary_key_version=config.get("primaryKeyVersion"),
    account=account,
)

pulumi.export("scoring_uri", service.scoring_uri)
pulumi.export("primary_key", service.primary_key)
pulumi.export("image_version", image.version)
pulumi.export("num_replicas", service.num_replicas)
