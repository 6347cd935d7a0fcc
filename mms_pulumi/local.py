"""What "local" means, for the Pulumi side and the emulator alike.

Where the on-demand local emulator listens and keeps its state unless configured, and the
stand-in values a deployment on it needs but the emulator never uses. The providers, the
``Deployment`` component and the emulator all read them here, so the Pulumi side never
imports the emulator to learn its defaults.
"""

from __future__ import annotations

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5080
DEFAULT_DATA_DIR = ".mms-emulator"
DEFAULT_OPERATION_SECONDS = 2.0

# A kubeconfig for 2017-06 services on the local emulator, which never contacts a cluster
# (it checks the kubeconfig's shape only). With a real MMS account, give your own.
LOCAL_KUBE_CONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster: {server: "https://127.0.0.1:6443"}
users:
- name: local
  user: {token: local-cluster-token}
contexts:
- name: local
  context: {cluster: local, user: local}
current-context: local
"""

# What else a deployment on the local emulator needs and never uses: a registry to push to
# (2017-06) and a compute resource to run on (2017-09).
LOCAL_REGISTRY = {"user": "local", "location": "registry.local.invalid"}
LOCAL_REGISTRY_PASSWORD = "local-registry-password"
LOCAL_IMAGE_PULL_SECRET = "acr-pull"
LOCAL_COMPUTE_RESOURCE_ID = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/local/providers"
    "/Microsoft.MachineLearningCompute/operationalizationClusters/local"
)

__all__ = [
    "DEFAULT_DATA_DIR",
    "DEFAULT_HOST",
    "DEFAULT_OPERATION_SECONDS",
    "DEFAULT_PORT",
    "LOCAL_COMPUTE_RESOURCE_ID",
    "LOCAL_IMAGE_PULL_SECRET",
    "LOCAL_KUBE_CONFIG",
    "LOCAL_REGISTRY",
    "LOCAL_REGISTRY_PASSWORD",
]
