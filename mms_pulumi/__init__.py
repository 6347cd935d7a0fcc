"""Azure ML Model Management Service (2017 preview API) as Pulumi resources.

``Model`` → ``Manifest`` → ``Image`` → ``Service``, each a Pulumi dynamic resource whose
create and update wait on MMS's async operations; ``MmsClient`` for scripts; a local
emulator (``mms-emulator``) as the default endpoint.
"""

from mms_pulumi.account import Account, AccountArgs
from mms_pulumi.client import MmsClient, OperationPoller
from mms_pulumi.errors import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    HttpResponseError,
    MmsError,
    NotFoundError,
    OperationFailedError,
    OperationTimeoutError,
    OutcomeUnknownError,
    PermissionDeniedError,
    RequestNotSentError,
    ServerError,
    ThrottledError,
)
from mms_pulumi.resources import (
    AssetArgs,
    Image,
    Manifest,
    Model,
    RegistryInfoArgs,
    RuntimePropertiesArgs,
    Service,
    TargetRuntimeArgs,
)

__all__ = [
    "Account",
    "AccountArgs",
    "AssetArgs",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "HttpResponseError",
    "Image",
    "Manifest",
    "MmsClient",
    "MmsError",
    "Model",
    "NotFoundError",
    "OperationFailedError",
    "OperationPoller",
    "OperationTimeoutError",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "RegistryInfoArgs",
    "RequestNotSentError",
    "RuntimePropertiesArgs",
    "ServerError",
    "Service",
    "TargetRuntimeArgs",
    "ThrottledError",
]
