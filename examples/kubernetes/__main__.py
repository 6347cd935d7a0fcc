"""Composition with pulumi-kubernetes: the image pull secret and the kubeconfig are shared.

The kubeconfig comes from stack config (secret) and configures both the Kubernetes
provider and the MMS Service; the pull secret is a ``kubernetes.io/dockerconfigjson``
Secret whose name is fed to the Service. The model and driver are the quickstart's.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from mms_pulumi import Image, Manifest, Model, RegistryInfoArgs, Service

QUICKSTART = Path(__file__).resolve().parent.parent / "quickstart"

config = pulumi.Config()
kube_config = config.require_secret("kubeConfig")
registry = config.get("registry") or "acr.example.io"
registry_user = config.get("registryUser") or "acr"
registry_password = config.require_secret("registryPassword")
namespace = config.get("namespace") or "default"


def docker_config_json(password: str) -> str:
    """The `.dockerconfigjson` document Kubernetes expects for a registry login."""
    auth = base64.b64encode(f"{registry_user}:{password}".encode()).decode()
    entry = {"username": registry_user, "password": password, "auth": auth}
    return json.dumps({"auths": {registry: entry}})


cluster = k8s.Provider("cluster", kubeconfig=kube_config, namespace=namespace)

pull_secret = k8s.core.v1.Secret(
    "acr-pull",
    metadata={"name": "acr-pull", "namespace": namespace},
    type="kubernetes.io/dockerconfigjson",
    string_data={".dockerconfigjson": registry_password.apply(docker_config_json)},
    opts=pulumi.ResourceOptions(provider=cluster),
)

model = Model(
    "scorer-model",
    name="scorer",
    url=(QUICKSTART / "churn-model.json").as_uri(),
    mime_type="application/json",
    tags=["kubernetes"],
)

manifest = Manifest(
    "scorer-manifest",
    model_ids=[model.id],
    driver_program="score",
    assets=[
        {
            "id": "score",
            "url": (QUICKSTART / "score.py").as_uri(),
            "mime_type": "application/x-python",
        }
    ],
    target_runtime={"runtime_type": "ScikitPython", "properties": {}},
)

image = Image(
    "scorer-image",
    manifest_id=manifest.id,
    registry_info=RegistryInfoArgs(
        user=registry_user, location=registry, password=registry_password
    ),
)

service = Service(
    "scorer",
    name=config.get("serviceName") or "scorer",
    image_id=image.id,
    manifest_id=manifest.id,
    kube_config=kube_config,
    acr_image_pull_secret=pull_secret.metadata.apply(lambda metadata: metadata["name"]),
)

pulumi.export("pull_secret", pull_secret.metadata.apply(lambda metadata: metadata["name"]))
pulumi.export("image_id", image.id)
pulumi.export("service_id", service.id)
pulumi.export("scoring_uri", service.scoring_uri)
