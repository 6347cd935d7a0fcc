"""The local defaults, where programs written before ``mms_pulumi.local`` found them.

They are defined in ``mms_pulumi.local``; this module only re-exports them.
"""

from __future__ import annotations

from mms_pulumi.local import (
    DEFAULT_DATA_DIR,
    DEFAULT_HOST,
    DEFAULT_OPERATION_SECONDS,
    DEFAULT_PORT,
    LOCAL_COMPUTE_RESOURCE_ID,
    LOCAL_IMAGE_PULL_SECRET,
    LOCAL_KUBE_CONFIG,
    LOCAL_REGISTRY,
    LOCAL_REGISTRY_PASSWORD,
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
