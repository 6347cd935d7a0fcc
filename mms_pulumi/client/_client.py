"""``MmsClient``: one method per MMS operation of the 2017-06-01-privatepreview API."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Self, TypeVar

import requests
from pydantic import BaseModel

from mms_pulumi.auth import TokenCredential, resolve_credential
from mms_pulumi.client import _defaults
from mms_pulumi.client._bodies import as_request, read, read_item, segment
from mms_pulumi.client._http import HttpTransport, RequestsTransport
from mms_pulumi.client._operations import RESULT_MODELS, OperationPollers
from mms_pulumi.client._paging import iterate_items
from mms_pulumi.client._polling import OperationPoller, PollSchedule, Schedule
from mms_pulumi.client._reconcile import (
    Match,
    image_match,
    manifest_match,
    model_match,
    pick,
    post_once,
    service_match,
)
from mms_pulumi.client._retry import RetryBudget, RetryPolicy
from mms_pulumi.client._transport import Clock, Response, Transport
from mms_pulumi.errors import NotFoundError
from mms_pulumi.schema import (
    ApiGeneration,
    AuthKeys,
    CreateImageRequest,
    CreateManifestRequest,
    CreateServiceRequest,
    Image,
    KeyType,
    Manifest,
    Model,
    Operation,
    OperationType,
    RegenerateKeysRequest,
    RegisterModelRequest,
    RequestModel,
    Service,
    UpdateServiceRequest,
    account_path,
    generation_of,
)
from mms_pulumi.schema_2017_09 import (
    Image2017_09,
    Manifest2017_09,
    RegisterModelRequest2017_09,
    Service2017_09,
)
from mms_pulumi.wire import dialect_of

ResponseT = TypeVar("ResponseT", bound=BaseModel)
CreatedT = TypeVar(
    "CreatedT", Model, Manifest, Image, Service, Manifest2017_09, Image2017_09, Service2017_09
)


class _AccountClient:
    """What a client of one MMS account does in either API generation: the transport,
    model registration, keys, deletes, operations. Thread-safe, one pooled session.

    ``credential`` is a token string, an azure-core ``TokenCredential``, or ``None`` for
    ``MMS_TOKEN`` and then azure-identity. Requests are retried where that is safe (see
    ``errors`` for what is raised); ``begin_*`` methods return an ``OperationPoller``,
    which looks at the operation on ``schedule`` (default: ``PollSchedule`` capped at
    ``polling_interval``; any object with ``floor`` and ``next_delay`` will do).

    ``transport`` sends each prepared request (an ``HttpTransport``: ``MockTransport`` in
    tests, ``RequestsTransport`` by default); ``session`` gives the default transport a
    ``requests.Session`` of your own instead. A transport or session passed in stays
    the caller's to close.
    """

    generation: ClassVar[ApiGeneration]
    results: ClassVar[Mapping[OperationType, type[BaseModel]]]

    def __init__(
        self,
        endpoint: str,
        subscription_id: str,
        resource_group: str,
        hosting_account: str,
        credential: str | TokenCredential | None = None,
        *,
        api_version: str | None = None,
        connect_timeout: float = _defaults.CONNECT_TIMEOUT,
        read_timeout: float = _defaults.READ_TIMEOUT,
        polling_interval: float = _defaults.POLLING_INTERVAL,
        schedule: Schedule | None = None,
        max_retries: int = _defaults.MAX_RETRIES,
        retry_backoff_factor: float = _defaults.RETRY_BACKOFF_FACTOR,
        retry_backoff_max: float = _defaults.RETRY_BACKOFF_MAX,
        session: requests.Session | None = None,
        transport: HttpTransport | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        for label, value in (
            ("subscription_id", subscription_id),
            ("resource_group", resource_group),
            ("hosting_account", hosting_account),
        ):
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{label} must be a non-empty string, got {value!r}")
        api_version = api_version or self.generation.value
        generation = generation_of(api_version)
        if generation is not self.generation:
            # generation: the error names the other client, which this module cannot import.
            other = "MmsClient" if generation is ApiGeneration.V2017_06 else "MmsClient2017_09"
            raise ValueError(
                f"api_version {api_version} is the {generation.account_segment} API: use "
                f"{other} for it ({type(self).__name__} speaks {self.generation.value})"
            )
        if session is not None and transport is not None:
            raise ValueError("give session or transport, not both (a transport has its own)")
        if session is not None:
            transport = RequestsTransport(session, monotonic=monotonic)
        self.subscription_id = subscription_id
        self.resource_group = resource_group
        self.hosting_account = hosting_account
        self.api_version = api_version
        self._transport = Transport(
            endpoint,
            resolve_credential(credential),
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            policy=RetryPolicy(max_retries, retry_backoff_factor, retry_backoff_max),
            http=transport,
            clock=Clock(monotonic, wall_clock, sleep),
            rng=rng,
        )
        # Relative to the endpoint (no leading slash) so an endpoint with a path prefix works.
        self._account = self._transport.resolve(
            account_path(subscription_id, resource_group, hosting_account, generation).lstrip("/")
        )
        self._pollers = OperationPollers(
            self._transport,
            self._account,
            api_version,
            schedule or PollSchedule(interval=polling_interval),
            self.results,
        )

    @property
    def endpoint(self) -> str:
        """The MMS endpoint this client talks to."""
        return self._transport.endpoint

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release pooled connections."""
        self._transport.close()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.endpoint!r}, {self.subscription_id!r}, "
            f"{self.resource_group!r}, {self.hosting_account!r})"
        )

    # --- models ------------------------------------------------------------------------------

    def register_model(
        self, request: RegisterModelRequest | RegisterModelRequest2017_09 | Mapping[str, Any]
    ) -> Model:
        """Register a model (a new version of its name); MMS answers 201 (or 200). 2017-09
        takes any name and tags (its reference restates no limits)."""
        given = request.to_wire() if isinstance(request, RequestModel) else request
        wire_model: type[RegisterModelRequest | RegisterModelRequest2017_09]
        wire_model = dialect_of(self.generation).register_model  # type: ignore[assignment]
        body = as_request(wire_model, given)
        return self._create_now(
            Model,
            "models",
            body,
            lambda: self.list_models(name=body.name),
            lambda model, since: model_match(model, body, since),
            f"model {body.name}",
            f"list_models(name={body.name!r})",
        )

    def get_model(self, model_id: str) -> Model:
        """One model version by id."""
        return read(Model, self._get(f"models/{segment(model_id)}"))

    def list_models(self, *, name: str | None = None, tag: str | None = None) -> list[Model]:
        """Every model version, optionally only those of a name or carrying a tag."""
        models = self._list("models", Model, {"name": name, "tag": tag})
        return [
            m for m in models if (name is None or m.name == name) and (tag is None or tag in m.tags)
        ]

    def delete_service(self, service_id: str) -> bool:
        """Delete a service: ``True`` if it was deleted, ``False`` if it was already gone."""
        url = self._url(f"services/{segment(service_id)}")
        try:
            answer = self._transport.request("DELETE", url, params=self._params())
        except NotFoundError:
            return False
        # The 2017 API answers 204 when there was no such service.
        return answer.status != 204

    def get_service_keys(self, service_id: str) -> AuthKeys:
        """The two keys the service's scoring endpoint accepts (``Bearer <key>``)."""
        return read(AuthKeys, self._get(f"services/{segment(service_id)}/keys"))

    def regenerate_service_keys(
        self, service_id: str, key_type: KeyType | str | None = None
    ) -> AuthKeys:
        """Replace the ``Primary`` or ``Secondary`` key (both when ``None``); the new keys."""
        body = RegenerateKeysRequest(key_type=KeyType(key_type) if key_type else None)
        url = self._url(f"services/{segment(service_id)}/regenerateKeys")
        answer = self._transport.request("POST", url, params=self._params(), json=body.to_wire())
        return read(AuthKeys, answer)

    # --- plumbing ----------------------------------------------------------------------------

    def get_operation(self, operation_id: str) -> Operation:
        """The state of an async operation."""
        return read(Operation, self._get(f"operations/{segment(operation_id)}"))

    def _url(self, relative: str) -> str:
        return f"{self._account}/{relative}"

    def _params(self, extra: Mapping[str, str | None] | None = None) -> dict[str, str]:
        params = {"api-version": self.api_version}
        params.update({key: value for key, value in (extra or {}).items() if value is not None})
        return params

    def _get(self, relative: str) -> Response:
        return self._transport.request("GET", self._url(relative), params=self._params())

    def _list(
        self,
        relative: str,
        model: type[ResponseT],
        filters: Mapping[str, str | None] | None = None,
    ) -> list[ResponseT]:
        first = self._transport.request("GET", self._url(relative), params=self._params(filters))
        # nextLink is followed verbatim: it already carries api-version and the filters.
        pages = iterate_items(first, lambda link: self._transport.request("GET", link))
        return [read_item(model, item, first) for item in pages]

    def _create(
        self,
        relative: str,
        body: RequestModel,
        candidates: Callable[[], list[CreatedT]],
        match: Callable[[CreatedT, datetime], Match],
        *,
        what: str,
        check: str,
    ) -> Response | CreatedT:
        """POST a creating request once; after an unknown outcome, the object among
        ``candidates()`` that ``match`` says this call made (see ``post_once``)."""
        url = self._url(relative)
        transport = self._transport
        since = _since_first_attempt(transport.wall_clock)
        return post_once(
            lambda budget: transport.request(
                "POST", url, params=self._params(), json=body.to_wire(), budget=budget
            ),
            lambda: pick(candidates(), lambda made: match(made, since)),
            what=what,
            check=check,
            budget=RetryBudget(transport.policy),
            monotonic=transport.monotonic,
            sleep=transport.sleep,
            rng=transport.rng,
        )

    def _create_now(
        self,
        model: type[CreatedT],
        relative: str,
        body: RequestModel,
        candidates: Callable[[], list[CreatedT]],
        match: Callable[[CreatedT, datetime], Match],
        what: str,
        check: str,
    ) -> CreatedT:
        """``_create`` for objects MMS makes at once (models, manifests): the object."""
        created = self._create(relative, body, candidates, match, what=what, check=check)
        return read(model, created) if isinstance(created, Response) else created


class MmsClient(_AccountClient):
    """A client of one MMS hosting account (api-version 2017-06-01-privatepreview,
    ``hostingAccounts`` paths); ``MmsClient2017_09`` speaks 2017-09-01-preview (``accounts``).

    ``credential`` is a token string, an azure-core ``TokenCredential``, or ``None`` for
    ``MMS_TOKEN`` and then azure-identity. Requests are retried where that is safe (see
    ``errors`` for what is raised); ``begin_*`` methods return an ``OperationPoller``.
    """

    generation = ApiGeneration.V2017_06
    results = RESULT_MODELS

    # --- manifests ---------------------------------------------------------------------------

    def create_manifest(self, request: CreateManifestRequest | Mapping[str, Any]) -> Manifest:
        """Create a manifest; every model id must be registered in this account."""
        body = as_request(CreateManifestRequest, request)
        return self._create_now(
            Manifest,
            "manifests",
            body,
            self.list_manifests,
            lambda manifest, since: manifest_match(manifest, body, since),
            "manifest",
            "list_manifests()",
        )

    def get_manifest(self, manifest_id: str) -> Manifest:
        """One manifest by id."""
        return read(Manifest, self._get(f"manifests/{segment(manifest_id)}"))

    def list_manifests(self) -> list[Manifest]:
        """Every manifest of the account."""
        return self._list("manifests", Manifest)

    # --- images ------------------------------------------------------------------------------

    def begin_create_image(
        self, request: CreateImageRequest | Mapping[str, Any]
    ) -> OperationPoller[Image]:
        """Start an image build; the poller's ``result()`` waits and returns the image."""
        body = as_request(CreateImageRequest, request)
        created = self._create(
            "images",
            body,
            self.list_images,
            lambda image, since: image_match(image, body, since),
            what=f"image of manifest {body.manifest_id}",
            check="list_images()",
        )
        if isinstance(created, Image):
            return self.wait_on_image(created.id)
        return self._pollers.accepted(created, OperationType.IMAGE, "image build")

    def get_image(self, image_id: str) -> Image:
        """One image by id."""
        return read(Image, self._get(f"images/{segment(image_id)}"))

    def list_images(self) -> list[Image]:
        """Every image of the account."""
        return self._list("images", Image)

    def resume_image_operation(self, operation_id: str) -> OperationPoller[Image]:
        """A poller for an image build started earlier (e.g. by another process)."""
        return self._pollers.by_id(operation_id, OperationType.IMAGE, "image build")

    def wait_on_image(self, image_id: str) -> OperationPoller[Image]:
        """A poller that follows an image's own ``creationState`` (when no operation id is at
        hand); its ``operation_id`` is the image id."""
        return self._pollers.by_state(image_id, OperationType.IMAGE)

    # --- services ----------------------------------------------------------------------------

    def begin_create_service(
        self, request: CreateServiceRequest | Mapping[str, Any]
    ) -> OperationPoller[Service]:
        """Start deploying a service; the poller's ``result()`` waits and returns it.

        Raises ``ConflictError`` when a service of that name exists.
        """
        body = as_request(CreateServiceRequest, request)
        created = self._create(
            "services",
            body,
            lambda: self.list_services(name=body.name),
            lambda service, _since: service_match(service, body),
            what=f"service {body.name}",
            check=f"list_services(name={body.name!r})",
        )
        if isinstance(created, Service):
            return self.wait_on_service(created.id)
        return self._pollers.accepted(created, OperationType.SERVICE, "service deployment")

    def begin_update_service(
        self, service_id: str, request: UpdateServiceRequest | Mapping[str, Any]
    ) -> OperationPoller[Service]:
        """Start rolling a service to a new image; ``result()`` waits and returns it."""
        body = as_request(UpdateServiceRequest, request)
        url = self._url(f"services/{segment(service_id)}")
        answer = self._transport.request("PUT", url, params=self._params(), json=body.to_wire())
        return self._pollers.accepted(answer, OperationType.SERVICE, "service update")

    def get_service(self, service_id: str) -> Service:
        """One service by id."""
        return read(Service, self._get(f"services/{segment(service_id)}"))

    def list_services(self, *, name: str | None = None) -> list[Service]:
        """Every service of the account, or those of one name."""
        services = self._list("services", Service, {"name": name})
        return [s for s in services if name is None or s.name == name]

    def resume_service_operation(self, operation_id: str) -> OperationPoller[Service]:
        """A poller for a service deployment or update started earlier."""
        return self._pollers.by_id(operation_id, OperationType.SERVICE, "service operation")

    def wait_on_service(self, service_id: str) -> OperationPoller[Service]:
        """A poller that follows a service's own ``state`` (when no operation id is at hand);
        its ``operation_id`` is the service id."""
        return self._pollers.by_state(service_id, OperationType.SERVICE)

    # --- operations --------------------------------------------------------------------------

    def resume_operation(
        self, operation_id: str, kind: OperationType | str
    ) -> OperationPoller[Image] | OperationPoller[Service]:
        """A poller for an operation started earlier; ``kind`` is ``Image`` or ``Service``."""
        if OperationType(str(kind).capitalize()) is OperationType.IMAGE:
            return self.resume_image_operation(operation_id)
        return self.resume_service_operation(operation_id)


def _since_first_attempt(wall_clock: Callable[[], float]) -> datetime:
    """The earliest creation time an object made by this call can carry."""
    now = datetime.fromtimestamp(wall_clock(), UTC)
    return now - timedelta(seconds=_defaults.RECONCILE_CLOCK_SKEW)
