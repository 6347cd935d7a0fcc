"""Wire format of the MMS API (api-version 2017-06-01-privatepreview) and its validation rules.

This is the one place where JSON keys are spelled: every model uses snake_case Python names
with camelCase aliases, so ``Model.model_validate({"mimeType": ...})`` and
``model.model_dump(by_alias=True)`` speak the wire format while the rest of the package
speaks Python. The emulator, the client and the resources' ``check`` all validate with
these models, so a rule is written once and a bad input is refused the same way
everywhere.

Request models (``*Request``) are strict about what MMS documents; response models are
tolerant (unknown keys ignored, optional fields) so the client can read any answer the
service gives.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import quote, urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel, to_snake
from pydantic_core import PydanticCustomError

API_VERSION = "2017-06-01-privatepreview"
API_VERSION_2017_09 = "2017-09-01-preview"


class ApiGeneration(StrEnum):
    """The two MMS API generations, by api-version: each has its own account path family
    (``hostingAccounts`` / ``accounts``), bodies and endpoints (mms-api.md §3, §5, §7)."""

    V2017_06 = API_VERSION
    V2017_09 = API_VERSION_2017_09

    @property
    def account_segment(self) -> str:
        """The path segment naming the account: ``hostingAccounts`` or ``accounts``."""
        return _ACCOUNT_SEGMENTS[self]

    @property
    def account_path(self) -> str:
        """This generation's account path template (host-relative)."""
        return (
            "/api/subscriptions/{subscription_id}/resourceGroups/{resource_group}"
            f"/{self.account_segment}/{{hosting_account}}"
        )


# mms-api.md §3 and §5: each generation's account path family.
_ACCOUNT_SEGMENTS = {ApiGeneration.V2017_06: "hostingAccounts", ApiGeneration.V2017_09: "accounts"}


def generation_of(api_version: str) -> ApiGeneration:
    """The generation an api-version belongs to; ``ValueError`` naming both otherwise."""
    try:
        return ApiGeneration(api_version)
    except ValueError:
        raise ValueError(
            f"api-version {api_version!r} is not one MMS had: use {API_VERSION} "
            f"(hostingAccounts) or {API_VERSION_2017_09} (accounts)"
        ) from None


# Where a hosting account's objects live, host-relative; the emulator's routes use the
# template, the client and Operation-Location links ``account_path(...)``.
ACCOUNT_PATH = ApiGeneration.V2017_06.account_path
ACCOUNT_PATH_2017_09 = ApiGeneration.V2017_09.account_path

NAME_MAX_LENGTH = 32
TAG_MAX_LENGTH = 30
MODEL_DESCRIPTION_MAX_LENGTH = 200
MANIFEST_DESCRIPTION_MAX_LENGTH = 512

# The seed says "alphanumeric characters and hyphens", but the official 2017 CLI names a
# model after its file and a driver asset after the driver's file (azure-cli-ml 0.1.0a20
# `_manifest_util.handle_model_files`, `manifest.py`: `model.pkl`, `score.py`), and the live
# service accepted them: dots and underscores are names too.
_NAME_PATTERN = r"^[A-Za-z0-9._-]+$"
_TAG_PATTERN = r"^[A-Za-z0-9]+$"
# Every other text field of both generations (ids, URLs, registry fields, descriptions,
# 2017-09 names and tags): any text but a character of Unicode category Cc (C0, DEL and
# C1, such as U+0085 NEXT LINE) or a line or paragraph separator (U+2028, U+2029). The one
# rule; a kubeConfig alone is a document of lines, parsed as YAML instead.
_TEXT_CHARACTER = r"[^\x00-\x1f\x7f-\x9f\u2028\u2029]"
_TEXT_PATTERN = rf"^{_TEXT_CHARACTER}+$"
TEXT_OR_EMPTY_PATTERN = rf"^{_TEXT_CHARACTER}*$"
TEXT_MAX_LENGTH = 4096
SERVICE_NAME_MAX_LENGTH = 63  # a Kubernetes name: MMS deployed services to Kubernetes

# Human wording for each pattern, so an error says the rule instead of a regular expression.
_PATTERN_RULES = {
    _NAME_PATTERN: "only letters, digits, hyphens, dots and underscores",
    _TAG_PATTERN: "only letters and digits",
    _TEXT_PATTERN: "no control characters or line separators",
    TEXT_OR_EMPTY_PATTERN: "no control characters or line separators",
}


def pattern_rule(pattern: str) -> str:
    """A field pattern in words (``only letters and digits``), for errors and the docs."""
    return _PATTERN_RULES.get(pattern, "a valid value")


class RuntimeType(StrEnum):
    """Base runtime of the image MMS builds (``targetRuntime.runtimeType``)."""

    SPARK_PYTHON = "SparkPython"
    CNTK_PYTHON = "CNTKPython"
    SCIKIT_PYTHON = "ScikitPython"
    TLC = "TLC"
    # The official 2017 CLI's spelling of TLC (azure-cli-ml 0.1.0a20 `_manifest_util.py`
    # `mms_runtime_mapping`: 'tlc' -> 'Tlc37').
    TLC37 = "Tlc37"


class OperationState(StrEnum):
    """State of an async operation, image build or service deployment.

    An operation moves only along ``TRANSITIONS``: NotStarted → Running → Succeeded, Failed
    or Cancelled (it may also fail or be cancelled before it starts); a terminal state never
    changes again. ``advance`` is the one way the emulator moves an operation.
    """

    NOT_STARTED = "NotStarted"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELLED = "Cancelled"

    @property
    def is_terminal(self) -> bool:
        """Whether the operation has finished and will not change again."""
        return not TRANSITIONS[self]

    def advance(self, new: OperationState) -> OperationState:
        """``new``, if an operation in this state may move to it; else ``IllegalTransition``."""
        if new not in TRANSITIONS[self]:
            raise IllegalTransition(self, new)
        return new


_ENDS = frozenset({OperationState.SUCCEEDED, OperationState.FAILED, OperationState.CANCELLED})
# The one transition table: state → the states it may move to (none: terminal).
TRANSITIONS: Mapping[OperationState, frozenset[OperationState]] = {
    OperationState.NOT_STARTED: _ENDS | {OperationState.RUNNING},
    OperationState.RUNNING: _ENDS,
    OperationState.SUCCEEDED: frozenset(),
    OperationState.FAILED: frozenset(),
    OperationState.CANCELLED: frozenset(),
}
TERMINAL_STATES = frozenset(state for state in OperationState if state.is_terminal)


class IllegalTransition(ValueError):
    """An operation was asked to move to a state its current state cannot reach."""

    def __init__(self, current: OperationState, new: OperationState) -> None:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "nothing (it is terminal)"
        super().__init__(
            f"an operation in state {current} cannot become {new}; it may become {allowed}"
        )
        self.current = current
        self.new = new


class OperationType(StrEnum):
    """What an async operation builds or deploys."""

    IMAGE = "Image"
    SERVICE = "Service"


def account_path(
    subscription_id: str,
    resource_group: str,
    hosting_account: str,
    generation: ApiGeneration = ApiGeneration.V2017_06,
) -> str:
    """The account path of one account in a generation, each id quoted as one segment."""
    return generation.account_path.format(
        subscription_id=quote(subscription_id, safe=""),
        resource_group=quote(resource_group, safe=""),
        hosting_account=quote(hosting_account, safe=""),
    )


def last_segment(link: str) -> str:
    """The id a link ends in: its path's last segment, ignoring a trailing slash, the
    query and the fragment (``…/operations/abc/?api-version=x`` → ``abc``)."""
    return urlsplit(link).path.rstrip("/").rsplit("/", 1)[-1]


def parse_operation_state(value: str) -> OperationState:
    """Read a state as MMS spells it; the 2017 docs also wrote ``Canceled``."""
    if value == "Canceled":
        return OperationState.CANCELLED
    return OperationState(value)


# --- field types ----------------------------------------------------------------------------

NonEmpty = Annotated[
    str, StringConstraints(min_length=1, max_length=TEXT_MAX_LENGTH, pattern=_TEXT_PATTERN)
]
ServiceName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=SERVICE_NAME_MAX_LENGTH, pattern=_NAME_PATTERN),
]
Name = Annotated[
    str, StringConstraints(min_length=1, max_length=NAME_MAX_LENGTH, pattern=_NAME_PATTERN)
]
Tag = Annotated[
    str, StringConstraints(min_length=1, max_length=TAG_MAX_LENGTH, pattern=_TAG_PATTERN)
]


# Bounds on a kubeconfig: real ones are a few KiB, a few levels deep, without aliases.
KUBE_CONFIG_MAX_BYTES = 256 * 1024
KUBE_CONFIG_MAX_DEPTH = 64
KUBE_CONFIG_MAX_VALUES = 50_000  # after expanding YAML aliases ("billion laughs")


def _check_bounds(node: yaml.Node) -> None:
    """Walk a composed YAML document as its aliases would expand, within the bounds."""
    _walk_within_bounds(
        node,
        lambda current: (
            current.value
            if isinstance(current, yaml.SequenceNode)
            else [part for pair in current.value for part in pair]
            if isinstance(current, yaml.MappingNode)
            else ()
        ),
    )


def _walk_within_bounds(root: Any, children: Callable[[Any], Iterable[Any]]) -> None:
    """Visit a tree depth first, refusing one too deep or with too many values."""
    pending: list[tuple[Any, int]] = [(root, 1)]
    seen = 0
    while pending:
        current, depth = pending.pop()
        seen += 1
        if seen > KUBE_CONFIG_MAX_VALUES:
            raise ValueError(
                f"expands to more than {KUBE_CONFIG_MAX_VALUES} values (YAML aliases?); "
                "give the kubeconfig without anchors"
            )
        if depth > KUBE_CONFIG_MAX_DEPTH:
            raise ValueError(f"is nested more than {KUBE_CONFIG_MAX_DEPTH} levels deep")
        pending += [(child, depth + 1) for child in children(current)]


def _json_children(value: Any) -> Iterable[Any]:
    if isinstance(value, dict):
        return value.values()
    return value if isinstance(value, list) else ()


# libyaml's loader when PyYAML was built with it: the same safe constructors, in C.
_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load_document(text: str) -> Any:
    """The kubeconfig's document, bounded in size, depth and alias expansion."""
    if text.lstrip().startswith("{"):
        # The seed's own form, single-line JSON, parses in C without a YAML pass; JSON has
        # no aliases, so bounding the built value is enough.
        try:
            document = json.loads(text)
        except ValueError:
            pass  # a YAML flow mapping that is not JSON: parse it as YAML below
        else:
            _walk_within_bounds(document, _json_children)
            return document
    try:
        return _load_yaml(text, _YamlLoader)
    except yaml.YAMLError:
        if _YamlLoader is yaml.SafeLoader:
            raise
        # libyaml refuses deep nesting with its own words; the Python loader's walk names
        # the bound that was passed (or the parse error) as every other path does.
        return _load_yaml(text, yaml.SafeLoader)


def _load_yaml(text: str, loader_class: Any) -> Any:
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_bounds(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def parse_kube_config(text: str) -> dict[str, Any]:
    """Parse a kubeconfig given as YAML or JSON (one line, as the seed asks, or several).

    Raises ``ValueError`` saying what is wrong; never echoes the content, which holds
    credentials. Size, depth and alias expansion are bounded before anything is built
    from YAML (a JSON value is bounded right after ``json.loads``, in C, builds it).
    """
    if len(text.encode("utf-8", "surrogatepass")) > KUBE_CONFIG_MAX_BYTES:
        raise ValueError(f"must be at most {KUBE_CONFIG_MAX_BYTES // 1024} KiB")
    try:
        document = _load_document(text)
    except RecursionError:
        raise ValueError(f"is nested more than {KUBE_CONFIG_MAX_DEPTH} levels deep") from None
    except yaml.YAMLError:
        raise ValueError("must be a kubeconfig in YAML or JSON; it does not parse") from None
    if not isinstance(document, dict):
        raise ValueError("must be a kubeconfig (a YAML or JSON mapping); got a single value")
    if document.get("kind", "Config") != "Config":
        raise ValueError("must be a kubeconfig: its 'kind' must be 'Config'")
    if not {"clusters", "contexts", "users", "current-context"} & document.keys():
        raise ValueError(
            "must be a kubeconfig with 'clusters', 'contexts' and 'users'; none was found"
        )
    return document


@functools.lru_cache(maxsize=64)
def normalize_kube_config(text: str) -> str:
    """Return the kubeconfig as single-line JSON, the form the seed asks for (newlines stripped).

    Cached: a stack's services usually share one kubeconfig, and preview checks each twice.
    """
    document = parse_kube_config(text)
    try:
        return json.dumps(document, separators=(",", ":"), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):
        # YAML can hold what JSON cannot: dates, binary, NaN, keys that are not strings.
        raise ValueError(
            "must be a kubeconfig JSON can hold: quote dates and numbers used as keys, and "
            "use no binary or NaN values"
        ) from None


def _check_kube_config(text: str) -> str:
    try:
        normalize_kube_config(text)
    except ValueError as err:
        raise PydanticCustomError("kube_config", str(err)) from None
    return text


def _null_is_empty(value: Any) -> Any:
    return "" if value is None else value


# A description; ``null`` reads as none, as the official 2017 CLI sent ``"description": null``
# when the user gave none (azure-cli-ml 0.1.0a20 `manifest.py`, `image.py` payloads).
Description = Annotated[
    str, StringConstraints(pattern=TEXT_OR_EMPTY_PATTERN), BeforeValidator(_null_is_empty)
]

KubeConfig = Annotated[str, StringConstraints(min_length=1), AfterValidator(_check_kube_config)]


# --- base classes ---------------------------------------------------------------------------


class WireModel(BaseModel):
    """Base of every wire model: camelCase aliases, snake_case names accepted too."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        serialize_by_alias=True,
        frozen=True,
        # Validators are built on first use: a plugin process validates a few of these
        # models, and import time is paid by every `pulumi preview`.
        defer_build=True,
    )

    def to_wire(self) -> dict[str, Any]:
        """The JSON body MMS expects, camelCase, with unset optional fields left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class RequestModel(WireModel):
    """A body sent to MMS, validated by the seed's rules.

    Undocumented keys are ignored rather than refused: the official 2017 clients sent a few
    (``dataCollection`` on services), and the service accepted them.
    """

    model_config = ConfigDict(extra="ignore")


class ResponseModel(WireModel):
    """A body MMS answers with; keys this package does not know are ignored."""

    model_config = ConfigDict(extra="ignore")


# --- models ---------------------------------------------------------------------------------


class RegisterModelRequest(RequestModel):
    """Body of ``POST models``."""

    name: Name
    url: NonEmpty
    mime_type: NonEmpty
    description: Annotated[
        str,
        StringConstraints(max_length=MODEL_DESCRIPTION_MAX_LENGTH, pattern=TEXT_OR_EMPTY_PATTERN),
        BeforeValidator(_null_is_empty),
    ] = ""
    tags: list[Tag] = Field(default_factory=list)
    unpack: bool = False


class Model(ResponseModel):
    """A registered model version."""

    id: str
    name: str
    version: int
    url: str
    mime_type: str | None = None
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    unpack: bool = False
    created_at: datetime | None = None


# --- manifests ------------------------------------------------------------------------------


class Asset(RequestModel):
    """A non-model file of a manifest: the driver program, a schema, a dependency."""

    id: Name
    url: NonEmpty
    mime_type: NonEmpty
    unpack: bool = False


class RuntimeProperties(RequestModel):
    """``targetRuntime.properties``: where the image build finds its dependencies."""

    model_config = ConfigDict(extra="forbid")

    pip_requirements: NonEmpty | None = None
    conda_env_file: NonEmpty | None = None


class TargetRuntime(RequestModel):
    """The runtime an image is built on."""

    runtime_type: RuntimeType
    properties: RuntimeProperties = Field(default_factory=RuntimeProperties)


class CreateManifestRequest(RequestModel):
    """Body of ``POST manifests``."""

    model_ids: Annotated[list[NonEmpty], Field(min_length=1)]
    model_type: Literal["Registered"]
    assets: list[Asset]
    target_runtime: TargetRuntime
    driver_program: Name | None = None
    description: Annotated[
        str,
        StringConstraints(
            max_length=MANIFEST_DESCRIPTION_MAX_LENGTH, pattern=TEXT_OR_EMPTY_PATTERN
        ),
        BeforeValidator(_null_is_empty),
    ] = ""
    # Not in the seed's body, but the official 2017 clients sent it.
    name: NonEmpty | None = None


class Manifest(ResponseModel):
    """A manifest: models plus the files and runtime needed to build an image."""

    id: str
    model_ids: list[str]
    model_type: str = "Registered"
    assets: list[Asset] = Field(default_factory=list)
    target_runtime: TargetRuntime
    driver_program: str | None = None
    description: str = ""
    name: str | None = None
    created_time: datetime | None = None


# --- images ---------------------------------------------------------------------------------


class RegistryInfo(RequestModel):
    """The container registry an image is pushed to; ``password`` is a secret."""

    user: NonEmpty
    location: NonEmpty
    password: NonEmpty

    def __repr__(self) -> str:
        return f"RegistryInfo(user={self.user!r}, location={self.location!r}, password='***')"

    __str__ = __repr__


class CreateImageRequest(RequestModel):
    """Body of ``POST images``."""

    manifest_id: NonEmpty
    image_type: Literal["Docker"]
    registry_info: RegistryInfo
    description: Description = ""


class ResponseRegistryInfo(ResponseModel):
    """``registryInfo`` as MMS echoes it (the seed echoes the password; we never keep it)."""

    user: str | None = None
    location: str | None = None


class Image(ResponseModel):
    """A container image built from a manifest."""

    id: str
    image_type: str = "Docker"
    registry_info: ResponseRegistryInfo | None = None
    description: str = ""
    manifest_id: str | None = None
    created_time: datetime | None = None
    creation_state: OperationState | None = None
    image_location: str | None = None


# --- services -------------------------------------------------------------------------------


class CreateServiceRequest(RequestModel):
    """Body of ``POST services``; ``kube_config`` is a secret."""

    name: ServiceName
    image_id: NonEmpty
    kube_config: KubeConfig
    acr_image_pull_secret: NonEmpty

    def __repr__(self) -> str:
        return (
            f"CreateServiceRequest(name={self.name!r}, image_id={self.image_id!r}, "
            f"kube_config='***', acr_image_pull_secret={self.acr_image_pull_secret!r})"
        )

    __str__ = __repr__


class UpdateServiceRequest(RequestModel):
    """Body of ``PUT services/{id}``.

    The seed documents ``manifestId`` and ``acrImagePullSecret``; the official clients sent
    ``imageId`` instead of ``manifestId``. Either identifies what to roll to.
    """

    acr_image_pull_secret: NonEmpty
    manifest_id: NonEmpty | None = None
    image_id: NonEmpty | None = None

    @model_validator(mode="after")
    def _names_a_target(self) -> UpdateServiceRequest:
        if self.manifest_id is None and self.image_id is None:
            raise PydanticCustomError(
                "missing_target", "give manifestId (as the seed documents) or imageId"
            )
        return self


class Service(ResponseModel):
    """A deployed web service.

    ``image`` embeds the image it runs: the official 2017 CLI's tables read ``Image.Id``
    (azure-cli-ml 0.1.0a20 `service/_realtimeutilities.py`), not ``imageId``.
    """

    id: str
    name: str
    image_id: str | None = None
    image: Image | None = None
    state: OperationState | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    manifest_id: str | None = None
    acr_image_pull_secret: str | None = None
    scoring_uri: str | None = None


class AuthKeys(ResponseModel):
    """``GET services/{id}/keys``: the two keys a service's scoring endpoint accepts."""

    primary_key: str
    secondary_key: str

    def __repr__(self) -> str:
        return "AuthKeys(primary_key='***', secondary_key='***')"

    __str__ = __repr__


class KeyType(StrEnum):
    """Which scoring key ``regenerateKeys`` replaces."""

    PRIMARY = "Primary"
    SECONDARY = "Secondary"


class RegenerateKeysRequest(RequestModel):
    """Body of ``POST services/{id}/regenerateKeys``. The 2017-09 API documents ``keyType``;
    the official 2017 CLI sent no body at all (azure-cli-ml 0.1.0a20 `realtime.py`
    `_realtime_service_keys_handling`), which replaces both keys."""

    key_type: KeyType | None = None


# --- lists ----------------------------------------------------------------------------------


class Page(ResponseModel):
    """One page of a list (2017-09; the seed answers bare arrays): ``{value, nextLink}``.

    ``nextLink`` is left out on the last page, as both 2017 clients tested for its presence.
    """

    value: list[Any] = Field(default_factory=list)
    next_link: str | None = None


# --- operations and errors ------------------------------------------------------------------


class ErrorDetail(ResponseModel):
    """One item of ``details`` in an error body."""

    code: str = ""
    message: str = ""


class ErrorBody(ResponseModel):
    """The seed's error shape: ``{code, message, statusCode, details}``."""

    code: str = ""
    message: str = ""
    status_code: int | None = None
    details: list[ErrorDetail] = Field(default_factory=list)


class Operation(ResponseModel):
    """An async operation (image build, service create or update)."""

    id: str
    state: OperationState
    operation_type: OperationType | None = None
    resource_location: str | None = None
    created_time: datetime | None = None
    end_time: datetime | None = None
    error: ErrorBody | None = None

    @model_validator(mode="before")
    @classmethod
    def _accept_canceled(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("state") == "Canceled":
            return {**data, "state": OperationState.CANCELLED.value}
        return data

    @property
    def resource_id(self) -> str | None:
        """Id of the resource the operation created or updated (last path segment)."""
        if not self.resource_location:
            return None
        return last_segment(self.resource_location)


# --- the local emulator's own answers -------------------------------------------------------


class EmulatorHealth(ResponseModel):
    """``GET /_emulator/health``; where the emulator is bound to loopback only, also its
    process id, data directory and operation time (how a caller tells its emulator apart)."""

    status: Literal["ok"]
    api_version: str
    pid: int | None = None
    data_dir: str | None = None
    operation_seconds: float | None = None


# --- turning validation errors into field problems ------------------------------------------


@dataclass(frozen=True)
class FieldProblem:
    """One invalid field: where it is and which rule it broke, in words a person can act on."""

    path: tuple[str | int, ...]
    rule: str

    def wire_path(self) -> str:
        """The field as MMS spells it, e.g. ``registryInfo.password`` or ``assets[0].id``."""
        return _format_path(self.path, to_camel)

    def python_path(self) -> str:
        """The field as this package spells it, e.g. ``registry_info.password``."""
        return _format_path(self.path, to_snake)


def _format_path(path: tuple[str | int, ...], convert: Any) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + convert(part)
    return text or "(body)"


def _rule_for(error: Mapping[str, Any]) -> str:
    """Say in words which rule a pydantic error stands for."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not accepted here; the allowed keys are pipRequirements and condaEnvFile"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"must be at most {ctx['max_length']} characters"
    if kind == "string_pattern_mismatch":
        return f"must contain {pattern_rule(ctx['pattern'])}"
    if kind == "too_short":
        return f"must have at least {ctx['min_length']} item(s)"
    if kind in ("literal_error", "enum"):
        return f"must be {ctx['expected']}"
    if kind == "string_type":
        return "must be a string"
    if kind in ("bool_type", "bool_parsing"):
        return "must be true or false"
    if kind in ("list_type", "tuple_type"):
        return "must be a list"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return "must be an object"
    # Custom errors already carry a sentence written for people.
    return str(error["msg"]).removeprefix("Value error, ")


def problems_from(error: ValidationError) -> list[FieldProblem]:
    """Every invalid field of a failed validation, one problem each, in input order."""
    problems: list[FieldProblem] = []
    seen: set[tuple[str | int, ...]] = set()
    for item in error.errors(include_url=False, include_input=False):
        path = tuple(item["loc"])
        # An enum-valued field reports once per union branch; keep the first.
        if path in seen:
            continue
        seen.add(path)
        problems.append(FieldProblem(path=path, rule=_rule_for(item)))
    return problems


RequestT = TypeVar("RequestT", bound=RequestModel)


def validate_request(
    model: type[RequestT], body: Any
) -> tuple[RequestT | None, list[FieldProblem]]:
    """Validate a request body; return the model, or ``None`` and every problem found."""
    if not isinstance(body, Mapping):
        return None, [FieldProblem(path=(), rule="must be a JSON object")]
    try:
        return model.model_validate(body), []
    except ValidationError as err:
        return None, problems_from(err)


__all__ = [
    "ACCOUNT_PATH",
    "ACCOUNT_PATH_2017_09",
    "API_VERSION",
    "API_VERSION_2017_09",
    "TERMINAL_STATES",
    "TRANSITIONS",
    "ApiGeneration",
    "Asset",
    "AuthKeys",
    "CreateImageRequest",
    "CreateManifestRequest",
    "CreateServiceRequest",
    "EmulatorHealth",
    "ErrorBody",
    "ErrorDetail",
    "FieldProblem",
    "IllegalTransition",
    "Image",
    "KeyType",
    "Manifest",
    "Model",
    "Operation",
    "OperationState",
    "OperationType",
    "Page",
    "RegenerateKeysRequest",
    "RegisterModelRequest",
    "RegistryInfo",
    "RuntimeProperties",
    "RuntimeType",
    "Service",
    "TargetRuntime",
    "UpdateServiceRequest",
    "account_path",
    "generation_of",
    "last_segment",
    "normalize_kube_config",
    "parse_kube_config",
    "parse_operation_state",
    "problems_from",
    "validate_request",
]

# Keep the compiled patterns honest: a typo in a pattern would silently accept everything.
assert re.fullmatch(_NAME_PATTERN, "churn-model-01")
assert not re.fullmatch(_TAG_PATTERN, "bad tag")
