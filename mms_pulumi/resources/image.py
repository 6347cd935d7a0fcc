"""``Image``: a container image MMS builds from a manifest (an async operation).

Images are immutable and have no delete in MMS: any change builds a new image. Create
waits for the build inside the hook, so ``image.id`` is ready for a Service.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi.dynamic as dynamic

from mms_pulumi import schema
from mms_pulumi.resources._base import (
    ACCOUNT_DOC,
    EMULATOR_KEY,
    ImmutableMmsProvider,
    generation_of_account,
    inputs_of,
    iso,
    placement,
    progress_printer,
    say,
    wire_request,
)
from mms_pulumi.resources._fields import FieldSpec, OnChange, generation_only, secret_inputs
from mms_pulumi.resources._resource import (
    AccountInput,
    MmsResource,
    build_props,
    secret_options,
)
from mms_pulumi.schema import ApiGeneration, OperationState
from mms_pulumi.schema_2017_09 import Image2017_09
from mms_pulumi.wire import DIALECTS, dialect_of_body

if TYPE_CHECKING:
    from mms_pulumi.client import MmsClient, MmsClient2017_09

FIELDS = (
    FieldSpec("manifest_id", doc="a manifest of the same account"),
    FieldSpec(
        "registry_info",
        only_in=ApiGeneration.V2017_06,
        secret=True,
        doc="`{user, location, password}` (`RegistryInfoArgs`): where the image is pushed",
    ),
    FieldSpec("name", only_in=ApiGeneration.V2017_09),
    FieldSpec(
        "compute_resource_id",
        only_in=ApiGeneration.V2017_09,
        doc="the ML compute environment's ARM id",
    ),
    FieldSpec("image_type", default="Docker"),
    FieldSpec("description", default=""),
    FieldSpec("account", doc=ACCOUNT_DOC),
    FieldSpec(EMULATOR_KEY, OnChange.IGNORE),
)
OUTPUTS = ("created_time", "creation_state", "image_location", "version", "image_build_log_uri")
SECRETS = secret_inputs(FIELDS)


@dataclass(frozen=True)
class RegistryInfoArgs:
    """The registry the image is pushed to; ``password`` is kept secret everywhere."""

    user: pulumi.Input[str]
    location: pulumi.Input[str]
    password: pulumi.Input[str]


class ImageProvider(ImmutableMmsProvider):
    """Builds images and waits for the build; every change builds a new image."""

    kind = "image"
    request_models = {g: dialect.create_image for g, dialect in DIALECTS.items()}
    only_in = generation_only(FIELDS)
    fields = FIELDS
    secret_fields = SECRETS

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        """Start the build and wait for it; a failed build names the operation and the cause."""
        from mms_pulumi.errors import OperationFailedError, OperationTimeoutError

        request = wire_request(self, props)
        client = self.client(props)
        label = f"for manifest {props['manifest_id']}"
        existing = self._identical(client, request)
        if existing is not None:
            # Images are immutable and cannot be deleted: an identical one (an interrupted
            # earlier `up`, or a reverted change) is the same image; building again would
            # only leave a duplicate behind.
            say(f"image {label}: adopting identical image {existing.id}")
            poller = client.wait_on_image(existing.id)
        else:
            poller = client.begin_create_image(request)
            say(f"image {label}: build started, operation {poller.operation_id}")
        try:
            image = poller.result(
                timeout=self.settings.operation_timeout,
                progress=progress_printer("image", label),
            )
        except OperationFailedError as err:
            raise RuntimeError(
                f"{err}. The failed image stays in the account (MMS has no delete for "
                "images). Fix the manifest's files or URLs and run `pulumi up` again."
            ) from err
        except OperationTimeoutError as err:
            raise RuntimeError(
                f"image build still {err.last_state} after {self.settings.operation_timeout:.0f}"
                f" s (operation {err.operation_id}). Raise mms:operationTimeout, then run "
                "`pulumi up` again."
            ) from err
        return dynamic.CreateResult(image.id, self.sealed(self._outputs(props, image)))

    @staticmethod
    def _identical(
        client: MmsClient | MmsClient2017_09, request: Any
    ) -> schema.Image | Image2017_09 | None:
        """The newest image built (or building) from exactly this request, if any."""
        candidates: list[schema.Image | Image2017_09] = list(client.list_images())
        matches = [
            image
            for image in candidates
            if _same_image(image, request)
            and image.creation_state not in (OperationState.FAILED, OperationState.CANCELLED)
        ]
        return matches[-1] if matches else None

    def read(self, id_: str, props: dict[str, Any]) -> dynamic.ReadResult:
        """Fetch the live image; a vanished one reads as deleted. The password stays ours."""
        getter: Callable[[str], schema.Image | Image2017_09] = self.client(props).get_image
        image = self.get_live(id_, props, getter)
        if image is None:
            return dynamic.ReadResult(id_="", outs={})
        recorded = props.get("registry_info") or {}
        live: dict[str, Any] = {
            "image_type": image.image_type,
            "description": image.description or "",
            **placement(props),
        }
        manifest_id = _manifest_of(image) or props.get("manifest_id")
        if manifest_id:
            live["manifest_id"] = manifest_id
        live.update(_LIVE_INPUTS[generation_of_account(props.get("account"))](image, recorded))
        return dynamic.ReadResult(
            id_, self.sealed(self._outputs(live, image)), self.sealed(inputs_of(FIELDS, live))
        )

    @staticmethod
    def _outputs(inputs: Mapping[str, Any], image: schema.Image | Image2017_09) -> dict[str, Any]:
        return {
            **inputs_of(FIELDS, inputs),
            "created_time": iso(image.created_time),
            "creation_state": image.creation_state.value if image.creation_state else None,
            "image_location": image.image_location,
            "version": getattr(image, "version", None),
            "image_build_log_uri": getattr(image, "image_build_log_uri", None),
        }


def _live_2017_06(image: Any, recorded: Any) -> dict[str, Any]:
    """A 2017-06 image's own inputs as MMS reports them: its registry, password ours."""
    if image.registry_info is None:
        return {}
    # MMS echoes the password; never take it from the answer, keep the recorded one.
    registry = {"user": image.registry_info.user, "location": image.registry_info.location}
    if isinstance(recorded, Mapping) and "password" in recorded:
        registry["password"] = recorded["password"]
    return {"registry_info": registry}


def _live_2017_09(image: Any, _recorded: Any) -> dict[str, Any]:
    """A 2017-09 image's own inputs as MMS reports them: its name and compute resource."""
    return {"name": image.name, "compute_resource_id": image.compute_resource_id}


# What ``read`` takes from a live image besides what both generations share.
_LIVE_INPUTS: dict[ApiGeneration, Callable[[Any, Any], dict[str, Any]]] = {
    ApiGeneration.V2017_06: _live_2017_06,
    ApiGeneration.V2017_09: _live_2017_09,
}


def _manifest_of(image: schema.Image | Image2017_09) -> str | None:
    """The manifest an image was built from, read as its generation says it."""
    return dialect_of_body(image).manifest_of(image)


def _same_image(image: schema.Image | Image2017_09, request: Any) -> bool:
    """Whether an image was built from exactly this request (of its generation): the one
    rule per generation, the client's lookup after a lost POST uses it too."""
    return dialect_of_body(image).same_image(image, request)


class Image(MmsResource, module="mms", name="Image"):
    """A Docker image built by MMS from a manifest and pushed to a registry."""

    provider_class = ImageProvider
    output_names = OUTPUTS
    secret_names = SECRETS

    manifest_id: pulumi.Output[str]
    registry_info: pulumi.Output[dict[str, str]]
    image_type: pulumi.Output[str]
    description: pulumi.Output[str]
    account: pulumi.Output[dict[str, str]]
    created_time: pulumi.Output[str | None]
    creation_state: pulumi.Output[str | None]
    image_location: pulumi.Output[str | None]
    version: pulumi.Output[int | None]
    image_build_log_uri: pulumi.Output[str | None]
    name: pulumi.Output[str | None]
    compute_resource_id: pulumi.Output[str | None]

    def __init__(
        self,
        resource_name: str,
        *,
        manifest_id: pulumi.Input[str],
        registry_info: pulumi.Input[RegistryInfoArgs | Mapping[str, Any]] | None = None,
        name: pulumi.Input[str] | None = None,
        compute_resource_id: pulumi.Input[str] | None = None,
        image_type: pulumi.Input[str] | None = None,
        description: pulumi.Input[str] | None = None,
        account: AccountInput = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Build an image from ``manifest_id``; waits for the build during ``pulumi up``.

        2017-06 (``hostingAccounts``) images take ``registry_info``; 2017-09 (``accounts``)
        ones a ``name`` and a ``compute_resource_id`` instead (``mms:apiVersion``).
        """
        inputs = {
            "manifest_id": manifest_id,
            "registry_info": registry_info,
            "name": name,
            "compute_resource_id": compute_resource_id,
            "image_type": image_type,
            "description": description,
        }
        props = build_props(inputs, OUTPUTS, account, SECRETS)
        super().__init__(ImageProvider(), resource_name, props, secret_options(opts, SECRETS))


__all__ = ["Image", "ImageProvider", "RegistryInfoArgs"]
