"""A wide stack for reliability tests: N model → manifest → image → service chains."""

from __future__ import annotations

from pathlib import Path

import pulumi

from mms_pulumi import Image, Manifest, Model, Service

QUICKSTART = Path(__file__).resolve().parents[3] / "examples" / "quickstart"
KUBE = '{"apiVersion":"v1","kind":"Config","clusters":[],"users":[],"contexts":[]}'

config = pulumi.Config()
chains = int(config.get("chains") or "20")
password = config.require_secret("registryPassword")

for index in range(chains):
    model = Model(
        f"model-{index}",
        name=f"fleet-{index}",
        url=(QUICKSTART / "churn-model.json").as_uri(),
        mime_type="application/json",
    )
    manifest = Manifest(
        f"manifest-{index}",
        model_ids=[model.id],
        driver_program="score",
        assets=[{"id": "score", "url": (QUICKSTART / "score.py").as_uri(), "mime_type": "x"}],
        target_runtime={"runtime_type": "ScikitPython", "properties": {}},
    )
    image = Image(
        f"image-{index}",
        manifest_id=manifest.id,
        registry_info={"user": "fleet", "location": "acr.local", "password": password},
    )
    Service(
        f"service-{index}",
        name=f"fleet-{index}",
        image_id=image.id,
        manifest_id=manifest.id,
        kube_config=KUBE,
        acr_image_pull_secret=config.get("pullSecret") or "acr-pull",
    )
