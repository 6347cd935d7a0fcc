"""``Image``: a container image MMS builds from a manifest (an async operation).

Images are immutable and have no delete in MMS: any change builds a new image. Create
waits for the build inside the hook, so ``image.id`` is ready for a Service.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi.dynamic as dynamic

from mms_pulumi import schema
from mms_pulumi.resources._base import (
    EMULATOR_KEY,
    ImmutableMmsProvider,
    inputs_of,
    iso,
    placement,
    progress_printer,
    say,
    wire_request,
)
from mms_pulumi.resources._fields import FieldSpec, OnChange
from mms_pulumi.resources._resource import (
    AccountInput,
    MmsResource,
    build_props,
    secret_options,
)
from mms_pulumi.schema import CreateImageRequest, OperationState

if TYPE_CHECKING:
    from mms_pulumi.client import MmsClient

FIELDS = (
    FieldSpec("manifest_id"),
    FieldSpec("registry_info"),
    FieldSpec("image_type", default="Docker"),
    FieldSpec("description", default=""),
    FieldSpec("account"),
    FieldSpec(EMULATOR_KEY, OnChange.IGNORE),
)
OUTPUTS = ("created_time", "creation_state", "image_location")
SECRETS = ("registry_info",)


@dataclass(frozen=True)
class RegistryInfoArgs:
    """The registry the image is pushed to; ``password`` is kept secret everywhere."""

    user: pulumi.Input[str]
    location: pulumi.Input[str]
    password: pulumi.Input[str]


class ImageProvider(ImmutableMmsProvider):
    """Builds images and waits for the build; every change builds a new image."""

    kind = "image"
    request_model = CreateImageRequest
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
    def _identical(client: MmsClient, request: CreateImageRequest) -> schema.Image | None:
        """The newest image built (or building) from exactly this request, if any."""
        matches = [
            image
            for image in client.list_images()
            if image.manifest_id == request.manifest_id
            and image.image_type == request.image_type
            and image.description == request.description
            and image.registry_info is not None
            and (image.registry_info.user, image.registry_info.location)
            == (request.registry_info.user, request.registry_info.location)
            and image.creation_state not in (OperationState.FAILED, OperationState.CANCELLED)
        ]
        return matches[-1] if matches else None

    def read(self, id_: str, props: dict[str, Any]) -> dynamic.ReadResult:
        """Fetch the live image; a vanished one reads as deleted. The password stays ours."""
        image = self.get_live(id_, props, self.client(props).get_image)
        if image is None:
            return dynamic.ReadResult(id_="", outs={})
        recorded = props.get("registry_info") or {}
        live: dict[str, Any] = {
            "image_type": image.image_type,
            "description": image.description,
            **placement(props),
        }
        if image.manifest_id or props.get("manifest_id"):
            live["manifest_id"] = image.manifest_id or props["manifest_id"]
        if image.registry_info is not None:
            # MMS echoes the password; never take it from the answer, keep the recorded one.
            live["registry_info"] = {
                "user": image.registry_info.user,
                "location": image.registry_info.location,
            }
            if isinstance(recorded, Mapping) and "password" in recorded:
                live["registry_info"]["password"] = recorded["password"]
        return dynamic.ReadResult(
            id_, self.sealed(self._outputs(live, image)), self.sealed(inputs_of(FIELDS, live))
        )

    @staticmethod
    def _outputs(inputs: Mapping[str, Any], image: schema.Image) -> dict[str, Any]:
        return {
            **inputs_of(FIELDS, inputs),
            "created_time": iso(image.created_time),
            "creation_state": image.creation_state.value if image.creation_state else None,
            "image_location": image.image_location,
        }


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

    def __init__(
        self,
        resource_name: str,
        *,
        manifest_id: pulumi.Input[str],
        registry_info: pulumi.Input[RegistryInfoArgs | Mapping[str, Any]],
        image_type: pulumi.Input[str] | None = None,
        description: pulumi.Input[str] | None = None,
        account: AccountInput = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Build an image from ``manifest_id``; waits for the build during ``pulumi up``."""
        inputs = {
            "manifest_id": manifest_id,
            "registry_info": registry_info,
            "image_type": image_type,
            "description": description,
        }
        props = build_props(inputs, OUTPUTS, account, SECRETS)
        super().__init__(ImageProvider(), resource_name, props, secret_options(opts, SECRETS))


__all__ = ["Image", "ImageProvider", "RegistryInfoArgs"]
