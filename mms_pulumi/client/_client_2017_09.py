"""``MmsClient2017_09``: one method per operation of the 2017-09-01-preview API (``accounts``).

The same transport, retries, reconciliation of lost POSTs and polling as ``MmsClient``;
the bodies and endpoints of mms-api.md §5: named and versioned manifests and images, a
compute resource instead of registry and kubeconfig, replica and monitoring settings,
deployments, and list filters answered in ``{value, nextLink}`` pages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from mms_pulumi.client._bodies import as_request, read, segment
from mms_pulumi.client._client import _AccountClient
from mms_pulumi.client._polling import OperationPoller
from mms_pulumi.client._reconcile import (
    image_match_2017_09,
    manifest_match_2017_09,
    service_match,
)
from mms_pulumi.client._transport import Response
from mms_pulumi.schema import ApiGeneration, OperationType
from mms_pulumi.schema_2017_09 import (
    CreateImageRequest2017_09,
    CreateManifestRequest2017_09,
    CreateServiceRequest2017_09,
    Deployment,
    Image2017_09,
    Manifest2017_09,
    Service2017_09,
    UpdateServiceRequest2017_09,
)

RESULT_MODELS_2017_09: Mapping[OperationType, type[BaseModel]] = {
    OperationType.IMAGE: Image2017_09,
    OperationType.SERVICE: Service2017_09,
}


class MmsClient2017_09(_AccountClient):
    """A client of one MMS account of the 2017-09-01-preview API (``accounts`` paths).

    Constructed like ``MmsClient``; its requests may be the ``schema_2017_09`` models or
    plain mappings (snake_case or camelCase keys), validated before anything is sent.
    """

    generation = ApiGeneration.V2017_09
    results = RESULT_MODELS_2017_09

    # --- manifests ---------------------------------------------------------------------------

    def create_manifest(
        self, request: CreateManifestRequest2017_09 | Mapping[str, Any]
    ) -> Manifest2017_09:
        """Create a manifest (a new version of its name); its models must be registered."""
        body = as_request(CreateManifestRequest2017_09, request)
        return self._create_now(
            Manifest2017_09,
            "manifests",
            body,
            lambda: self.list_manifests(manifest_name=body.name),
            lambda manifest, since: manifest_match_2017_09(manifest, body, since),
            f"manifest {body.name}",
            f"list_manifests(manifest_name={body.name!r})",
        )

    def get_manifest(self, manifest_id: str) -> Manifest2017_09:
        """One manifest by id."""
        return read(Manifest2017_09, self._get(f"manifests/{segment(manifest_id)}"))

    def list_manifests(
        self, *, model_id: str | None = None, manifest_name: str | None = None
    ) -> list[Manifest2017_09]:
        """Every manifest, or those using a model or of one name."""
        filters = {"modelId": model_id, "manifestName": manifest_name}
        return self._list("manifests", Manifest2017_09, filters)

    # --- images ------------------------------------------------------------------------------

    def begin_create_image(
        self, request: CreateImageRequest2017_09 | Mapping[str, Any]
    ) -> OperationPoller[Image2017_09]:
        """Start an image build; the poller's ``result()`` waits and returns the image."""
        body = as_request(CreateImageRequest2017_09, request)
        created = self._create(
            "images",
            body,
            lambda: self.list_images(manifest_id=body.manifest_id),
            lambda image, since: image_match_2017_09(image, body, since),
            what=f"image {body.name}",
            check=f"list_images(manifest_id={body.manifest_id!r})",
        )
        if isinstance(created, Response):
            return self._pollers.accepted(created, OperationType.IMAGE, "image build")
        return self.wait_on_image(created.id)  # an earlier attempt made it

    def get_image(self, image_id: str) -> Image2017_09:
        """One image by id (its manifest embedded)."""
        return read(Image2017_09, self._get(f"images/{segment(image_id)}"))

    def list_images(
        self, *, manifest_id: str | None = None, manifest_name: str | None = None
    ) -> list[Image2017_09]:
        """Every image, or those of one manifest (by id or by name)."""
        filters = {"manifestId": manifest_id, "manifestName": manifest_name}
        return self._list("images", Image2017_09, filters)

    def resume_image_operation(self, operation_id: str) -> OperationPoller[Image2017_09]:
        """A poller for an image build started earlier."""
        return self._pollers.by_id(operation_id, OperationType.IMAGE, "image build")

    def wait_on_image(self, image_id: str) -> OperationPoller[Image2017_09]:
        """A poller that follows an image's own ``creationState``."""
        return self._pollers.by_state(image_id, OperationType.IMAGE)

    # --- services ----------------------------------------------------------------------------

    def begin_create_service(
        self, request: CreateServiceRequest2017_09 | Mapping[str, Any]
    ) -> OperationPoller[Service2017_09]:
        """Start deploying a service; ``ConflictError`` when the name is taken."""
        body = as_request(CreateServiceRequest2017_09, request)
        created = self._create(
            "services",
            body,
            lambda: self.list_services(name=body.name),
            lambda service, _since: service_match(service, body),
            what=f"service {body.name}",
            check=f"list_services(name={body.name!r})",
        )
        if isinstance(created, Response):
            return self._pollers.accepted(created, OperationType.SERVICE, "service deployment")
        return self.wait_on_service(created.id)  # an earlier attempt made it

    def begin_update_service(
        self, service_id: str, request: UpdateServiceRequest2017_09 | Mapping[str, Any]
    ) -> OperationPoller[Service2017_09]:
        """Roll a service to another image and/or settings; ``NotFoundError`` if unknown."""
        body = as_request(UpdateServiceRequest2017_09, request)
        url = self._url(f"services/{segment(service_id)}")
        answer = self._transport.request("PUT", url, params=self._params(), json=body.to_wire())
        return self._pollers.accepted(answer, OperationType.SERVICE, "service update")

    def get_service(self, service_id: str) -> Service2017_09:
        """One service (image, manifest and models embedded; ``scoringUri`` once serving)."""
        return read(Service2017_09, self._get(f"services/{segment(service_id)}"))

    def list_services(
        self,
        *,
        name: str | None = None,
        service_name: str | None = None,
        model_id: str | None = None,
        model_name: str | None = None,
        manifest_id: str | None = None,
        manifest_name: str | None = None,
        image_id: str | None = None,
        compute_resource_id: str | None = None,
    ) -> list[Service2017_09]:
        """Every service, or those matching every filter given (mms-api.md §5).

        ``name`` is the filter ``MmsClient.list_services`` takes, under the same keyword;
        ``service_name`` is the same filter under the 2017-09 wire's own word.
        """
        if name is not None and service_name is not None and name != service_name:
            raise ValueError("give name or service_name, not both: they are one filter")
        service_name = name if name is not None else service_name
        filters = {
            "serviceName": service_name,
            "modelId": model_id,
            "modelName": model_name,
            "manifestId": manifest_id,
            "manifestName": manifest_name,
            "imageId": image_id,
            "computeResourceId": compute_resource_id,
        }
        return self._list("services", Service2017_09, filters)

    def resume_service_operation(self, operation_id: str) -> OperationPoller[Service2017_09]:
        """A poller for a service deployment or update started earlier."""
        return self._pollers.by_id(operation_id, OperationType.SERVICE, "service operation")

    def resume_operation(
        self, operation_id: str, kind: OperationType | str
    ) -> OperationPoller[Image2017_09] | OperationPoller[Service2017_09]:
        """A poller for an operation started earlier; ``kind`` is ``Image`` or ``Service``."""
        if OperationType(str(kind).capitalize()) is OperationType.IMAGE:
            return self.resume_image_operation(operation_id)
        return self.resume_service_operation(operation_id)

    def wait_on_service(self, service_id: str) -> OperationPoller[Service2017_09]:
        """A poller that follows a service's own ``state``."""
        return self._pollers.by_state(service_id, OperationType.SERVICE)

    # --- deployments -------------------------------------------------------------------------

    def list_deployments(self, *, service_id: str | None = None) -> list[Deployment]:
        """Every deployment (a rollout of an image to a service), or a service's."""
        return self._list("deployments", Deployment, {"serviceId": service_id})

    def get_deployment(self, deployment_id: str) -> Deployment:
        """One deployment; ``NotFoundError`` when there is none."""
        return read(Deployment, self._get(f"deployments/{segment(deployment_id)}"))


__all__ = ["RESULT_MODELS_2017_09", "MmsClient2017_09"]
