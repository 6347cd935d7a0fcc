"""Creating without duplicates: a POST whose outcome is unknown is looked for, not repeated.

A POST that timed out, lost its connection after sending, or got a 500/502/504 may have
created its object. Repeating it blindly could register a second model version, build a
second image or clash with the service it did create. So the client waits a moment (an
in-flight request gets to land), looks for what the POST would have made, continues with
that if it is there, repeats only when the lookup proves nothing was made, and otherwise
raises ``OutcomeUnknownError`` saying what to check.

The match functions are pure: they compare one listed object with the request and the
time the first attempt started (``since``).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from enum import Enum
from typing import TypeVar

from mms_pulumi.client._retry import POST_UNKNOWN_STATUSES, Failure, FailureKind, RetryBudget
from mms_pulumi.client._transport import Response
from mms_pulumi.errors import MmsError, OutcomeUnknownError, ServerError
from mms_pulumi.schema import (
    CreateImageRequest,
    CreateManifestRequest,
    CreateServiceRequest,
    Image,
    Manifest,
    Model,
    RegisterModelRequest,
    Service,
)
from mms_pulumi.schema_2017_09 import (
    CreateImageRequest2017_09,
    CreateManifestRequest2017_09,
    CreateServiceRequest2017_09,
    Image2017_09,
    Manifest2017_09,
    RegisterModelRequest2017_09,
    Service2017_09,
)
from mms_pulumi.wire import v2017_06, v2017_09

logger = logging.getLogger("mms_pulumi.client")

R = TypeVar("R", Model, Manifest, Image, Service, Manifest2017_09, Image2017_09, Service2017_09)


class Match(Enum):
    """How a listed object relates to a POST whose outcome is unknown."""

    SAME = "identical and created since the first attempt"
    UNDATED = "identical, but MMS gave no creation time"
    OTHER = "not what this POST would have made"


class Ambiguous(Exception):
    """Identical objects exist, but nothing tells whether this POST made them."""

    def __init__(self, ids: list[str]) -> None:
        super().__init__(", ".join(ids))
        self.ids = ids


def _dated(created: datetime | None, since: datetime) -> Match:
    if created is None:
        return Match.UNDATED
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return Match.SAME if created >= since else Match.OTHER


def _same(made: object, request: object, fields: tuple[str, ...]) -> bool:
    """Whether an object carries the request's value in every one of ``fields``."""
    return all(getattr(made, name) == getattr(request, name) for name in fields)


MODEL_FIELDS = ("name", "url", "mime_type", "description", "tags", "unpack")


def model_match(
    model: Model, request: RegisterModelRequest | RegisterModelRequest2017_09, since: datetime
) -> Match:
    """A model of the same name, url, mimeType, description, tags and unpack, made since."""
    same = _same(model, request, MODEL_FIELDS)
    return _dated(model.created_at, since) if same else Match.OTHER


def manifest_match(manifest: Manifest, request: CreateManifestRequest, since: datetime) -> Match:
    """A manifest with the same models, assets, runtime, driver and description, made since."""
    same = v2017_06.same_manifest(manifest, request)
    return _dated(manifest.created_time, since) if same else Match.OTHER


def image_match(image: Image, request: CreateImageRequest, since: datetime) -> Match:
    """An image of the same manifest, registry user and location, and description, made since."""
    same = v2017_06.same_image(image, request)
    return _dated(image.created_time, since) if same else Match.OTHER


def manifest_match_2017_09(
    manifest: Manifest2017_09, request: CreateManifestRequest2017_09, since: datetime
) -> Match:
    """A 2017-09 manifest of the same name, driver, models, assets and description."""
    same = v2017_09.same_manifest(manifest, request)
    return _dated(manifest.created_time, since) if same else Match.OTHER


def image_match_2017_09(
    image: Image2017_09, request: CreateImageRequest2017_09, since: datetime
) -> Match:
    """A 2017-09 image of the same name, manifest, type, compute resource and description."""
    same = v2017_09.same_image(image, request)
    return _dated(image.created_time, since) if same else Match.OTHER


def service_match(
    service: Service | Service2017_09, request: CreateServiceRequest | CreateServiceRequest2017_09
) -> Match:
    """A service of the same name and image: names are unique, so it is this deployment."""
    if service.name == request.name and service.image_id == request.image_id:
        return Match.SAME
    return Match.OTHER


def pick(candidates: Iterable[R], match: Callable[[R], Match]) -> R | None:
    """The newest object the POST made, ``None`` if provably none; ``Ambiguous`` otherwise."""
    same: list[R] = []
    undated: list[R] = []
    for candidate in candidates:
        verdict = match(candidate)
        if verdict is Match.SAME:
            same.append(candidate)
        elif verdict is Match.UNDATED:
            undated.append(candidate)
    if same:
        # Lists come oldest first; the newest is the one most likely made by this call.
        return same[-1]
    if undated:
        raise Ambiguous([item.id for item in undated])
    return None


def post_once(
    send: Callable[[RetryBudget], Response],
    lookup: Callable[[], R | None],
    *,
    what: str,
    check: str,
    budget: RetryBudget,
    monotonic: Callable[[], float],
    sleep: Callable[[float], None],
    rng: random.Random,
) -> Response | R:
    """Send a creating POST; after an unknown outcome, look before repeating it.

    Returns the POST's answer, or the object an earlier attempt created. ``what`` names
    the object (``model churn``), ``check`` the call that finds it (``list_models(...)``).
    The transport's retries and the repeats here draw on the one ``budget``.
    """
    while True:
        try:
            return send(budget)
        except OutcomeUnknownError as err:
            failure: MmsError = err
        except ServerError as err:
            if err.status_code not in POST_UNKNOWN_STATUSES:
                raise
            failure = err
        logger.warning(
            "creating %s: outcome unknown (%s); looking for it before repeating the request",
            what,
            _cause(failure),
        )
        # A repeat is safe once the lookup shows nothing was made, so it is decided as for a
        # request that was never sent; its wait gives a request the service is still
        # processing the time to land before the lookup.
        decision = budget.decide("POST", Failure(FailureKind.NOT_SENT), monotonic(), rng)
        if decision.delay is not None:
            sleep(decision.delay)
        try:
            existing = lookup()
        except Ambiguous as ambiguous:
            raise OutcomeUnknownError(
                f"creating {what}: the request got no clear answer and identical objects "
                f"without a creation time exist ({ambiguous}); it cannot tell whether this "
                f"request made one. Check {check} before creating it again.",
                request_id=failure.request_id,
                client_request_id=failure.client_request_id,
            ) from failure
        except MmsError as lookup_error:
            raise OutcomeUnknownError(
                f"creating {what}: the request got no clear answer, and looking for the result "
                f"failed too ({lookup_error.message}). Check {check} before creating it again.",
                request_id=failure.request_id,
                client_request_id=failure.client_request_id,
            ) from lookup_error
        if existing is not None:
            logger.info(
                "creating %s: an earlier attempt made it (%s); using that", what, existing.id
            )
            return existing
        if decision.delay is None:
            if isinstance(failure, ServerError):
                # The service answered each time, and nothing was made: its error stands.
                raise failure
            raise OutcomeUnknownError(
                f"creating {what}: {budget.used + 1} attempts got no answer; none had created "
                f"it when last looked, but the last may still land. Check {check} before "
                "creating it again.",
                request_id=failure.request_id,
                client_request_id=failure.client_request_id,
            ) from failure


def _cause(failure: MmsError) -> str:
    """A few words on why the outcome is unknown, for the log."""
    if isinstance(failure, ServerError):
        return f"HTTP {failure.status_code}"
    return type(failure.__cause__).__name__ if failure.__cause__ else "no answer"
