"""``MmsClient``: one method per MMS operation of the 2017-06-01-privatepreview API."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import quote

import requests
from pydantic import BaseModel

from mms_pulumi.auth import TokenCredential, resolve_credential
from mms_pulumi.client import _defaults
from mms_pulumi.client._paging import iterate_items
from mms_pulumi.client._polling import Observation, OperationPoller, PollSchedule
from mms_pulumi.client._retry import RetryPolicy, parse_retry_after
from mms_pulumi.client._transport import Response, Transport
from mms_pulumi.errors import ConflictError, NotFoundError, OutcomeUnknownError
from mms_pulumi.schema import (
    API_VERSION,
    CreateImageRequest,
    CreateManifestRequest,
    CreateServiceRequest,
    ErrorBody,
    Image,
    Manifest,
    Model,
    Operation,
    OperationState,
    OperationType,
    RegisterModelRequest,
    RequestModel,
    Service,
    UpdateServiceRequest,
)

RequestT = TypeVar("RequestT", bound=RequestModel)
ResponseT = TypeVar("ResponseT", bound=BaseModel)


class MmsClient:
    """A client of one MMS hosting account; thread-safe, one pooled session."""

    def __init__(
        self,
        endpoint: str,
        subscription_id: str,
        resource_group: str,
        hosting_account: str,
        credential: str | TokenCredential | None = None,
        *,
        api_version: str = API_VERSION,
        connect_timeout: float = _defaults.CONNECT_TIMEOUT,
        read_timeout: float = _defaults.READ_TIMEOUT,
        polling_interval: float = _defaults.POLLING_INTERVAL,
        max_retries: int = _defaults.MAX_RETRIES,
        retry_backoff_factor: float = _defaults.RETRY_BACKOFF_FACTOR,
        retry_backoff_max: float = _defaults.RETRY_BACKOFF_MAX,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.subscription_id = subscription_id
        self.resource_group = resource_group
        self.hosting_account = hosting_account
        self.api_version = api_version
        self._base = "/api/" + "/".join(
            f"{segment}/{quote(value, safe='')}"
            for segment, value in (
                ("subscriptions", subscription_id),
                ("resourceGroups", resource_group),
                ("hostingAccounts", hosting_account),
            )
        )
        self._policy = RetryPolicy(max_retries, retry_backoff_factor, retry_backoff_max)
        self._transport = Transport(
            endpoint,
            resolve_credential(credential),
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            policy=self._policy,
            session=session,
            clock=clock,
            sleep=sleep,
            rng=rng,
        )
        self._schedule = PollSchedule(interval=polling_interval)
        self._clock = clock
        self._sleep = sleep

    def __enter__(self) -> MmsClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release pooled connections."""
        self._transport.close()

    def __repr__(self) -> str:
        return (
            f"MmsClient({self._transport.endpoint!r}, {self.subscription_id!r}, "
            f"{self.resource_group!r}, {self.hosting_account!r})"
        )

    # --- models ------------------------------------------------------------------------------

    def register_model(self, request: RegisterModelRequest | Mapping[str, Any]) -> Model:
        """Register a model (a new version of its name); answers 201 (or 200)."""
        body = _as(RegisterModelRequest, request)
        return self._create(
            "models",
            body,
            Model,
            find_existing=lambda since: _newest(
                m
                for m in self.list_models(name=body.name)
                if _created_since(m.created_at, since)
                and (m.url, m.mime_type, m.description, m.tags, m.unpack)
                == (body.url, body.mime_type, body.description, body.tags, body.unpack)
            ),
        )

    def get_model(self, model_id: str) -> Model:
        """One model version by id."""
        return Model.model_validate(self._get(f"models/{_id(model_id)}").body)

    def list_models(self, *, name: str | None = None, tag: str | None = None) -> list[Model]:
        """Every model version, optionally only those of a name or carrying a tag."""
        params = {key: value for key, value in (("name", name), ("tag", tag)) if value}
        return self._list("models", Model, params)

    # --- manifests ---------------------------------------------------------------------------

    def create_manifest(self, request: CreateManifestRequest | Mapping[str, Any]) -> Manifest:
        """Create a manifest; every model id must be registered in this account."""
        body = _as(CreateManifestRequest, request)
        wanted = body.model_dump(exclude={"name"})
        return self._create(
            "manifests",
            body,
            Manifest,
            find_existing=lambda since: _newest(
                m
                for m in self.list_manifests()
                if _created_since(m.created_time, since)
                and CreateManifestRequest.model_validate(
                    m.model_dump(include=set(CreateManifestRequest.model_fields))
                ).model_dump(exclude={"name"})
                == wanted
            ),
        )

    def get_manifest(self, manifest_id: str) -> Manifest:
        """One manifest by id."""
        return Manifest.model_validate(self._get(f"manifests/{_id(manifest_id)}").body)

    def list_manifests(self) -> list[Manifest]:
        """Every manifest of the account."""
        return self._list("manifests", Manifest)

    # --- images ------------------------------------------------------------------------------

    def begin_create_image(
        self, request: CreateImageRequest | Mapping[str, Any]
    ) -> OperationPoller[Image]:
        """Start an image build; the poller's ``result()`` waits and returns the image."""
        body = _as(CreateImageRequest, request)

        def find(since: datetime) -> Image | None:
            return _newest(
                image
                for image in self.list_images()
                if image.manifest_id == body.manifest_id
                and image.registry_info is not None
                and (image.registry_info.user, image.registry_info.location)
                == (body.registry_info.user, body.registry_info.location)
                and _created_since(image.created_time, since)
            )

        answer = self._post_reconciled("images", body, find)
        if isinstance(answer, Image):
            return self.wait_on_image(answer.id)
        return self.resume_image_operation(_operation_id(answer))

    def get_image(self, image_id: str) -> Image:
        """One image by id."""
        return Image.model_validate(self._get(f"images/{_id(image_id)}").body)

    def list_images(self) -> list[Image]:
        """Every image of the account."""
        return self._list("images", Image)

    def resume_image_operation(self, operation_id: str) -> OperationPoller[Image]:
        """A poller for an image build started earlier (e.g. by another process)."""
        return self._operation_poller(operation_id, "image build", self.get_image)

    # --- services ----------------------------------------------------------------------------

    def begin_create_service(
        self, request: CreateServiceRequest | Mapping[str, Any]
    ) -> OperationPoller[Service]:
        """Start deploying a service; the poller's ``result()`` waits and returns it."""
        body = _as(CreateServiceRequest, request)

        def find(_since: datetime) -> Service | None:
            existing = next(
                (s for s in self.list_services(name=body.name) if s.name == body.name), None
            )
            if existing is not None and existing.image_id != body.image_id:
                # Our lost POST did not make it: someone else's service holds the name.
                detail = f"a service named {body.name} exists with image {existing.image_id}"
                raise ConflictError(
                    "POST", self._path("services"), 409, ErrorBody(code="Conflict", message=detail)
                )
            return existing

        answer = self._post_reconciled("services", body, find)
        if isinstance(answer, Service):
            return self.wait_on_service(answer.id)
        return self.resume_service_operation(_operation_id(answer))

    def begin_update_service(
        self, service_id: str, request: UpdateServiceRequest | Mapping[str, Any]
    ) -> OperationPoller[Service]:
        """Start rolling a service to a new image; ``result()`` waits and returns it."""
        body = _as(UpdateServiceRequest, request)
        answer = self._transport.request(
            "PUT",
            self._path(f"services/{_id(service_id)}"),
            params=self._params(),
            json=body.to_wire(),
        )
        return self.resume_service_operation(_operation_id(answer))

    def delete_service(self, service_id: str) -> bool:
        """Delete a service: ``True`` if it was deleted, ``False`` if it was already gone."""
        try:
            answer = self._transport.request(
                "DELETE", self._path(f"services/{_id(service_id)}"), params=self._params()
            )
        except NotFoundError:
            return False
        return answer.status != 204

    def get_service(self, service_id: str) -> Service:
        """One service by id."""
        return Service.model_validate(self._get(f"services/{_id(service_id)}").body)

    def list_services(self, *, name: str | None = None) -> list[Service]:
        """Every service of the account, or those of one name."""
        services = self._list("services", Service, {"name": name} if name else None)
        return [s for s in services if name is None or s.name == name]

    def resume_service_operation(self, operation_id: str) -> OperationPoller[Service]:
        """A poller for a service deployment or update started earlier."""
        return self._operation_poller(operation_id, "service deployment", self.get_service)

    def wait_on_service(self, service_id: str) -> OperationPoller[Service]:
        """A poller that follows a service's own state (for one whose operation id is lost)."""

        def observe() -> Observation:
            service = self.get_service(service_id)
            state = service.state or OperationState.SUCCEEDED
            return Observation(
                state,
                Operation(
                    id=service_id,
                    state=state,
                    operation_type=OperationType.SERVICE,
                    resource_location=self._path(f"services/{service_id}"),
                ),
            )

        return self._poller(service_id, "service deployment", observe, self.get_service)

    # --- operations --------------------------------------------------------------------------

    def get_operation(self, operation_id: str) -> Operation:
        """The state of an async operation."""
        return Operation.model_validate(self._get(f"operations/{_id(operation_id)}").body)

    # --- plumbing ----------------------------------------------------------------------------

    def _path(self, relative: str) -> str:
        return f"{self._base}/{relative}"

    def _params(self) -> dict[str, str]:
        return {"api-version": self.api_version}

    def _get(self, relative: str) -> Response:
        return self._transport.request("GET", self._path(relative), params=self._params())

    def _post(self, relative: str, body: RequestModel) -> Response:
        return self._transport.request(
            "POST", self._path(relative), params=self._params(), json=body.to_wire()
        )

    def _list(
        self, relative: str, model: type[ResponseT], params: Mapping[str, str] | None = None
    ) -> list[ResponseT]:
        first = self._transport.request(
            "GET", self._path(relative), params={**self._params(), **(params or {})}
        )
        items = iterate_items(first.body, lambda link: self._transport.request("GET", link).body)
        return [model.model_validate(item) for item in items]

    def _create(
        self,
        relative: str,
        body: RequestModel,
        model: type[ResponseT],
        find_existing: Callable[[datetime], ResponseT | None],
    ) -> ResponseT:
        """POST; when the outcome is unknown, look before repeating it."""
        answer = self._post_reconciled(relative, body, find_existing)
        if isinstance(answer, Response):
            return model.model_validate(answer.body)
        return answer

    def _post_reconciled(
        self,
        relative: str,
        body: RequestModel,
        find_existing: Callable[[datetime], ResponseT | None],
    ) -> Response | ResponseT:
        """POST, never blindly twice: after an unknown outcome, repeat only once a lookup
        proves the earlier attempt created nothing; return what it created otherwise."""
        started = datetime.now(UTC) - timedelta(seconds=_defaults.RECONCILE_CLOCK_SKEW)
        for attempt in range(self._policy.max_retries + 1):
            try:
                return self._post(relative, body)
            except OutcomeUnknownError:
                existing = find_existing(started)
                if existing is not None:
                    return existing
                if attempt == self._policy.max_retries:
                    raise
                self._sleep(min(self._policy.backoff_max, self._policy.backoff_factor * 2**attempt))
        raise AssertionError("unreachable")

    def _operation_poller(
        self, operation_id: str, what: str, fetch: Callable[[str], ResponseT]
    ) -> OperationPoller[ResponseT]:
        def observe() -> Observation:
            answer = self._get(f"operations/{_id(operation_id)}")
            operation = Operation.model_validate(answer.body)
            return Observation(
                operation.state, operation, parse_retry_after(answer.headers, time.time())
            )

        def fetch_result(operation: Operation) -> ResponseT:
            if operation.resource_id is None:
                raise ValueError(f"operation {operation.id} succeeded without a resourceLocation")
            return fetch(operation.resource_id)

        return OperationPoller(
            operation_id,
            what=what,
            observe=observe,
            fetch=fetch_result,
            schedule=self._schedule,
            clock=self._clock,
            sleep=self._sleep,
        )

    def _poller(
        self,
        ident: str,
        what: str,
        observe: Callable[[], Observation],
        fetch: Callable[[str], ResponseT],
    ) -> OperationPoller[ResponseT]:
        return OperationPoller(
            ident,
            what=what,
            observe=observe,
            fetch=lambda operation: fetch(ident),
            schedule=self._schedule,
            clock=self._clock,
            sleep=self._sleep,
        )

    def wait_on_image(self, image_id: str) -> OperationPoller[Image]:
        """A poller that follows an image's own build state (its operation id is lost)."""

        def observe() -> Observation:
            image = self.get_image(image_id)
            state = image.creation_state or OperationState.SUCCEEDED
            operation = Operation(
                id=image_id,
                state=state,
                operation_type=OperationType.IMAGE,
                resource_location=self._path(f"images/{image_id}"),
            )
            return Observation(state, operation)

        return self._poller(image_id, "image build", observe, self.get_image)


def _as(model: type[RequestT], request: RequestT | Mapping[str, Any]) -> RequestT:
    return request if isinstance(request, model) else model.model_validate(request)


def _id(value: str) -> str:
    return quote(value, safe="")


def _operation_id(answer: Response) -> str:
    location = answer.headers.get("Operation-Location") or answer.headers.get("operation-location")
    if not location:
        raise ValueError(
            f"MMS accepted the request (HTTP {answer.status}) but sent no Operation-Location "
            f"(x-ms-request-id {answer.request_id})"
        )
    return location.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def _created_since(created: datetime | None, since: datetime) -> bool:
    return created is not None and created.astimezone(UTC) >= since


def _newest(candidates: Iterable[ResponseT]) -> ResponseT | None:
    ordered = sorted(
        candidates,
        key=lambda item: (
            getattr(item, "created_at", None)
            or getattr(item, "created_time", None)
            or datetime.min.replace(tzinfo=UTC)
        ),
    )
    return ordered[-1] if ordered else None
