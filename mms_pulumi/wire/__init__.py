"""The API generation, chosen in one place.

Each generation has a module of the same names (``v2017_06``, ``v2017_09``: the request
and response models, and the rules that read them), as azure's multi-api packages keep one
``models`` module per api-version. ``DIALECTS`` maps a generation to everything the rest
of the package does differently for it; code asks ``dialect_of(generation)`` and uses what
it gets, instead of branching on the generation. A branch on the generation outside this
table says why in a comment (``tests/test_generation_branches.py`` holds to that).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from mms_pulumi.schema import ApiGeneration, RequestModel, ResponseModel
from mms_pulumi.wire import v2017_06, v2017_09


@dataclass(frozen=True)
class Dialect:
    """What one API generation says its own way."""

    generation: ApiGeneration
    # The module of this generation's models, under the names both modules share.
    models: ModuleType
    register_model: type[RequestModel]
    create_manifest: type[RequestModel]
    manifest: type[ResponseModel]
    target_runtime: type[RequestModel]
    create_image: type[RequestModel]
    image: type[ResponseModel]
    create_service: type[RequestModel]
    update_service: type[RequestModel]
    service: type[ResponseModel]
    # The rules that read this generation's bodies (see the module of each).
    manifest_of: Callable[[Any], str | None]
    same_image: Callable[[Any, Any], bool]
    same_manifest: Callable[[Any, Any], bool]
    # The query parameter ``GET services`` filters a name by.
    service_name_filter: str

    @property
    def account_segment(self) -> str:
        """The path segment naming the account: ``hostingAccounts`` or ``accounts``."""
        return self.generation.account_segment


def _dialect(generation: ApiGeneration, models: ModuleType, service_name_filter: str) -> Dialect:
    return Dialect(
        generation=generation,
        models=models,
        register_model=models.RegisterModelRequest,
        create_manifest=models.CreateManifestRequest,
        manifest=models.Manifest,
        target_runtime=models.TargetRuntime,
        create_image=models.CreateImageRequest,
        image=models.Image,
        create_service=models.CreateServiceRequest,
        update_service=models.UpdateServiceRequest,
        service=models.Service,
        manifest_of=models.manifest_of,
        same_image=models.same_image,
        same_manifest=models.same_manifest,
        service_name_filter=service_name_filter,
    )


DIALECTS: dict[ApiGeneration, Dialect] = {
    # mms-api.md §3: ``GET services?name=``.
    ApiGeneration.V2017_06: _dialect(ApiGeneration.V2017_06, v2017_06, "name"),
    # mms-api.md §5.1: ``GET services?serviceName=``.
    ApiGeneration.V2017_09: _dialect(ApiGeneration.V2017_09, v2017_09, "serviceName"),
}


def dialect_of(generation: ApiGeneration | str) -> Dialect:
    """The dialect of a generation (or of its api-version string)."""
    return DIALECTS[ApiGeneration(generation)]


def dialect_of_body(body: object) -> Dialect:
    """The dialect a wire body was read in, told by its class (``ValueError`` for a class
    that belongs to both generations or neither, such as ``Model``)."""
    found = [
        dialect
        for dialect in DIALECTS.values()
        if type(body) in (dialect.manifest, dialect.image, dialect.service)
    ]
    if len(found) != 1:
        raise ValueError(f"{type(body).__name__} does not tell an API generation apart")
    return found[0]


__all__ = ["DIALECTS", "Dialect", "dialect_of", "dialect_of_body", "v2017_06", "v2017_09"]
