"""Azure ML Model Management Service (2017 preview API) as Pulumi resources.

``Model`` → ``Manifest`` → ``Image`` → ``Service``, each a Pulumi dynamic resource whose
create and update wait on MMS's async operations; ``MmsClient`` for scripts; a local
emulator (``mms-emulator``) as the default endpoint.

Names are imported on first use, so a process that needs one part (the plugin, a scoring
process) does not pay for the others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mms_pulumi._lazy import lazy_attributes

if TYPE_CHECKING:
    from mms_pulumi.account import Account, AccountArgs
    from mms_pulumi.client import MmsClient, OperationPoller
    from mms_pulumi.errors import (
        AuthenticationError,
        BadRequestError,
        ConflictError,
        CredentialError,
        ForeignOriginError,
        InvalidRequestError,
        MmsError,
        MmsHttpError,
        NotFoundError,
        OperationFailedError,
        OperationTimeoutError,
        OutcomeUnknownError,
        PermissionDeniedError,
        ProtocolError,
        RequestNotSentError,
        ServerError,
        ThrottledError,
    )
    from mms_pulumi.resources import (
        AssetArgs,
        AutoscalerArgs,
        ComputeResourceArgs,
        ContainerResourceReservationArgs,
        DataCollectionArgs,
        Deployment,
        DeploymentArgs,
        Image,
        Manifest,
        Model,
        RegistryInfoArgs,
        RuntimePropertiesArgs,
        Service,
        SmokeTestArgs,
        TargetRuntimeArgs,
    )

_EXPORTS = {
    "mms_pulumi.account": ("Account", "AccountArgs"),
    "mms_pulumi.client": ("MmsClient", "OperationPoller"),
    "mms_pulumi.errors": (
        "AuthenticationError",
        "BadRequestError",
        "ConflictError",
        "CredentialError",
        "ForeignOriginError",
        "InvalidRequestError",
        "MmsHttpError",
        "MmsError",
        "NotFoundError",
        "OperationFailedError",
        "OperationTimeoutError",
        "OutcomeUnknownError",
        "PermissionDeniedError",
        "ProtocolError",
        "RequestNotSentError",
        "ServerError",
        "ThrottledError",
    ),
    "mms_pulumi.resources": (
        "AssetArgs",
        "AutoscalerArgs",
        "ComputeResourceArgs",
        "ContainerResourceReservationArgs",
        "DataCollectionArgs",
        "Deployment",
        "DeploymentArgs",
        "Image",
        "Manifest",
        "Model",
        "RegistryInfoArgs",
        "RuntimePropertiesArgs",
        "Service",
        "SmokeTestArgs",
        "TargetRuntimeArgs",
    ),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

# Spelled out for type checkers and linters, which cannot read a computed list;
# tests/test_public_api.py holds it equal to the table above.
__all__ = [
    "Account",
    "AccountArgs",
    "AssetArgs",
    "AuthenticationError",
    "AutoscalerArgs",
    "BadRequestError",
    "ComputeResourceArgs",
    "ConflictError",
    "ContainerResourceReservationArgs",
    "CredentialError",
    "DataCollectionArgs",
    "Deployment",
    "DeploymentArgs",
    "ForeignOriginError",
    "Image",
    "InvalidRequestError",
    "Manifest",
    "MmsClient",
    "MmsError",
    "MmsHttpError",
    "Model",
    "NotFoundError",
    "OperationFailedError",
    "OperationPoller",
    "OperationTimeoutError",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "ProtocolError",
    "RegistryInfoArgs",
    "RequestNotSentError",
    "RuntimePropertiesArgs",
    "ServerError",
    "Service",
    "SmokeTestArgs",
    "TargetRuntimeArgs",
    "ThrottledError",
]


__getattr__ = lazy_attributes(__name__, globals(), _MODULE_OF)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
