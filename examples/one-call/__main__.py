"""One call: the quickstart's churn model to a smoke-tested endpoint.

The 2017 CLI's one-liner

    az ml service create realtime -f score.py --model-file churn-model.json -r scikit-py -n churn

as one ``Deployment``: it registers the model, creates the manifest, builds the image and
deploys the service (its four children), then POSTs a known customer pair to the new
endpoint and checks the answer before ``pulumi up`` reports success. Local files are sent
with a content hash, so editing ``score.py`` replaces the manifest and image and rolls the
service; a driver that answers wrongly is rolled back and the old version keeps serving.

With no ``mms:endpoint``, the local MMS emulator is started on demand.
"""

from __future__ import annotations

from pathlib import Path

import pulumi

from mms_pulumi import Deployment, SmokeTestArgs

QUICKSTART = Path(__file__).resolve().parent.parent / "quickstart"

# With a real MMS account: `pulumi config set --secret kubeConfig "$(cat ~/.kube/config)"`.
config = pulumi.Config()
churn = Deployment(
    "churn",
    name=config.get("serviceName") or "churn",
    model=config.get("model") or QUICKSTART / "churn-model.json",
    driver=config.get("driver") or QUICKSTART / "score.py",
    runtime="scikit-py",
    # On the local emulator the registry, kubeconfig and pull secret may be left out;
    # these show where a real account's go (set them as secret config).
    registry_info={
        "user": "one-call",
        "location": "registry.local.invalid",
        "password": config.get_secret("registryPassword")
        or pulumi.Output.secret("local-registry-password"),
    },
    kube_config=config.get_secret("kubeConfig"),
    acr_image_pull_secret=config.get("imagePullSecret"),
    # A new customer about to leave and a loyal one: the model must tell them apart.
    smoke_test=SmokeTestArgs(
        input={
            "customers": [
                {"tenure_months": 4, "monthly_charges": 100, "support_calls": 5},
                {"tenure_months": 60, "monthly_charges": 20, "support_calls": 0},
            ]
        },
        expect={"churn_probability": [0.9824, 0.0186], "churn": [True, False]},
    ),
)

pulumi.export("scoring_uri", churn.scoring_uri)
pulumi.export("service_id", churn.service_id)
pulumi.export("image_id", churn.image_id)
pulumi.export("model_id", churn.model_id)
pulumi.export("model_version", churn.model_version)
# A secret output: `pulumi stack output primary_key --show-secrets` prints it.
pulumi.export("primary_key", churn.primary_key)
