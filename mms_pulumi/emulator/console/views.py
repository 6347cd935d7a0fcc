"""What the console's pages show, as pure functions of the objects and operations.

Nothing here does I/O: the routes read the backend and hand the results over, the
templates draw what comes back. The chain graph and the operations timeline are laid out
here (SVG coordinates), so their geometry is tested without a browser.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from mms_pulumi.emulator.middleware import CONSOLE_PREFIX
from mms_pulumi.emulator.scope import AccountScope
from mms_pulumi.emulator.store import OperationRecord
from mms_pulumi.schema import ErrorBody, OperationState

# A state as the console colours it (the stylesheet's classes).
STATE_CLASSES: Mapping[str, str] = {
    OperationState.SUCCEEDED: "ok",
    OperationState.FAILED: "failed",
    OperationState.CANCELLED: "cancelled",
    OperationState.RUNNING: "running",
    OperationState.NOT_STARTED: "waiting",
}
# What an operation did, in words (``Action`` values).
ACTION_WORDS: Mapping[str, str] = {
    "build": "image build",
    "deploy": "service deployment",
    "update": "service update",
}
SYNCHRONOUS = "synchronous (no operation)"


def state_class(state: str | None) -> str:
    """The stylesheet class of a state (``unknown`` for none)."""
    return STATE_CLASSES.get(state or "", "unknown")


def segment(text: str) -> str:
    """One path segment of a console link, every reserved character escaped."""
    return quote(text, safe="")


def account_href(scope: AccountScope) -> str:
    """The console page of an account."""
    parts = (scope.subscription_id, scope.resource_group, scope.hosting_account)
    return "/".join(
        [CONSOLE_PREFIX, scope.generation.account_segment, *(segment(part) for part in parts)]
    )


def object_href(scope: AccountScope, kind: str, ident: str) -> str:
    """The console link of an object: a page of its own for images and services, its row
    on the account page for models and manifests."""
    if kind in ("images", "services"):
        return f"{account_href(scope)}/{kind}/{segment(ident)}"
    return f"{account_href(scope)}#{kind[:-1]}-{segment(ident)}"


def created_of(body: Mapping[str, Any]) -> str | None:
    """When an object was made, as MMS shows it (models say ``createdAt``, the rest
    ``createdTime``)."""
    value = body.get("createdTime") or body.get("createdAt")
    return str(value) if value else None


def moment(epoch: float | None) -> str:
    """An epoch time as the console prints it (UTC, to the millisecond)."""
    if epoch is None:
        return "—"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"


def error_text(error: Mapping[str, Any] | None) -> str | None:
    """An operation's error as one line: its message, then each detail."""
    if error is None:
        return None
    body = ErrorBody.model_validate(error)
    parts = [body.message or body.code or "failed"]
    # A detail the message already says (MMS often repeated it) is not said twice.
    parts += [
        f"{detail.code}: {detail.message}"
        for detail in body.details
        if detail.message not in parts[0]
    ]
    return " — ".join(part for part in parts if part)


def short(ident: str | None) -> str:
    """The first eight characters of an id, as the console labels a node with it."""
    return (ident or "")[:8]


# --- listing and filtering ---------------------------------------------------------------


@dataclass(frozen=True)
class Listing:
    """An account's objects as its page lists them, after the filters."""

    models: list[dict[str, Any]]
    manifests: list[dict[str, Any]]
    images: list[dict[str, Any]]
    services: list[dict[str, Any]]

    @property
    def total(self) -> int:
        """How many objects are listed."""
        return len(self.models) + len(self.manifests) + len(self.images) + len(self.services)


def _named(name: str | None, needle: str) -> bool:
    return needle.casefold() in (name or "").casefold()


def _manifest_id_of(image: Mapping[str, Any]) -> str | None:
    # A 2017-09 image embeds its manifest, a 2017-06 one names it.
    embedded = image.get("manifest") or {}
    return image.get("manifestId") or embedded.get("id")


def listing(
    models: Sequence[dict[str, Any]],
    manifests: Sequence[dict[str, Any]],
    images: Sequence[dict[str, Any]],
    services: Sequence[dict[str, Any]],
    *,
    name: str = "",
    tag: str = "",
) -> Listing:
    """The objects a page lists for a name filter (a case-blind part of each object's own
    name; an image without one goes by its manifest's) and a tag filter (models with that
    tag, and what was made of them: their manifests, those manifests' images, the services
    that run those images)."""
    manifest_names = {m.get("id"): m.get("name") for m in manifests}
    if tag:
        tagged = {m.get("id") for m in models if tag in (m.get("tags") or [])}
        models = [m for m in models if m.get("id") in tagged]
        manifests = [m for m in manifests if tagged.intersection(m.get("modelIds") or [])]
        kept = {m.get("id") for m in manifests}
        images = [i for i in images if _manifest_id_of(i) in kept]
        running = {i.get("id") for i in images}
        services = [s for s in services if s.get("imageId") in running]
    if name:
        models = [m for m in models if _named(m.get("name"), name)]
        manifests = [m for m in manifests if _named(m.get("name"), name)]
        images = [
            i
            for i in images
            if _named(i.get("name") or manifest_names.get(_manifest_id_of(i)), name)
        ]
        services = [s for s in services if _named(s.get("name"), name)]
    return Listing(list(models), list(manifests), list(images), list(services))


def model_versions(models: Iterable[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Models grouped by name, in first-registered order, each name's versions newest first."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for model in models:
        groups.setdefault(str(model.get("name") or ""), []).append(model)
    return [
        (name, sorted(versions, key=lambda m: int(m.get("version") or 0), reverse=True))
        for name, versions in groups.items()
    ]


# --- the chain graph ---------------------------------------------------------------------

NODE_WIDTH = 230
NODE_HEIGHT = 104
COLUMN_GAP = 56
ROW_GAP = 18
MARGIN = 12
KIND_ORDER = ("models", "manifests", "images", "services")


@dataclass(frozen=True)
class ChainNode:
    """One object of a chain, placed: its box's top-left corner is ``(x, y)``."""

    kind: str
    name: str
    ident: str
    state: str | None
    created: str | None
    made_by: str
    made_by_label: str
    href: str
    x: int
    y: int

    @property
    def css(self) -> str:
        """The stylesheet class of the node's state."""
        return state_class(self.state)

    @property
    def label(self) -> str:
        """The kind, singular."""
        return self.kind[:-1]


@dataclass(frozen=True)
class ChainEdge:
    """An arrow from the right edge of one node to the left edge of the next."""

    x1: int
    y1: int
    x2: int
    y2: int


@dataclass(frozen=True)
class Chain:
    """A service's chain, model(s) → manifest → image → service, laid out for SVG."""

    nodes: list[ChainNode]
    edges: list[ChainEdge]
    width: int
    height: int


def made_by(
    ident: str, operations: Mapping[str, Sequence[OperationRecord]], *, asynchronous: bool
) -> tuple[str, str]:
    """Which operation made an object, the first one about it (later ones changed it): a
    label short enough for a chain node, and the whole of it for the table beside."""
    if not asynchronous:
        return "synchronous", SYNCHRONOUS
    records = operations.get(ident) or []
    if not records:
        return "no operation", "no operation recorded"
    first = records[0]
    words = ACTION_WORDS.get(first.action, str(first.action))
    label = f"{words.split()[-1]} {short(first.id)}"
    text = f"{words} {short(first.id)} ({first.state})"
    if len(records) > 1:
        label += f" +{len(records) - 1}"
        text += f", then {len(records) - 1} more"
    return label, text


def operations_by_resource(
    operations: Iterable[OperationRecord],
) -> dict[str, list[OperationRecord]]:
    """An account's operations grouped by the object they are about, oldest first."""
    grouped: dict[str, list[OperationRecord]] = {}
    for record in sorted(operations, key=lambda record: record.created):
        grouped.setdefault(record.resource_id, []).append(record)
    return grouped


def chain_of(
    scope: AccountScope,
    service: Mapping[str, Any],
    image: Mapping[str, Any] | None,
    manifest: Mapping[str, Any] | None,
    models: Sequence[Mapping[str, Any]],
    operations: Mapping[str, Sequence[OperationRecord]],
) -> Chain:
    """The chain behind a service, one column per kind, models stacked in theirs; a link
    of the chain that is gone (deleted since) is left out, and the arrows join what is left."""
    columns: list[tuple[str, list[Mapping[str, Any]]]] = [
        ("models", list(models)),
        ("manifests", [manifest] if manifest is not None else []),
        ("images", [image] if image is not None else []),
        ("services", [service]),
    ]
    rows = max(1, len(models))
    height = 2 * MARGIN + rows * NODE_HEIGHT + (rows - 1) * ROW_GAP
    nodes: list[ChainNode] = []
    placed: list[list[ChainNode]] = []
    for column, (kind, bodies) in enumerate(columns):
        x = MARGIN + column * (NODE_WIDTH + COLUMN_GAP)
        stack = len(bodies) * NODE_HEIGHT + max(0, len(bodies) - 1) * ROW_GAP
        top = (height - stack) // 2
        here = []
        for row, body in enumerate(bodies):
            ident = str(body.get("id") or "")
            name = str(body.get("name") or "")
            if kind == "models" and body.get("version") is not None:
                name = f"{name} v{body.get('version')}"
            label, text = made_by(ident, operations, asynchronous=kind in ("images", "services"))
            node = ChainNode(
                kind=kind,
                name=name,
                ident=ident,
                state=_state_of(kind, body),
                created=created_of(body),
                made_by=text,
                made_by_label=label,
                href=object_href(scope, kind, ident),
                x=x,
                y=top + row * (NODE_HEIGHT + ROW_GAP),
            )
            here.append(node)
        nodes += here
        placed.append(here)
    edges = [
        ChainEdge(a.x + NODE_WIDTH, a.y + NODE_HEIGHT // 2, b.x, b.y + NODE_HEIGHT // 2)
        for left, right in itertools.pairwise(column for column in placed if column)
        for a in left
        for b in right
    ]
    width = 2 * MARGIN + len(KIND_ORDER) * NODE_WIDTH + (len(KIND_ORDER) - 1) * COLUMN_GAP
    return Chain(nodes, edges, width, height)


def _state_of(kind: str, body: Mapping[str, Any]) -> str | None:
    # Models and manifests are registered whole (MMS made them synchronously).
    if kind == "images":
        return body.get("creationState")
    if kind == "services":
        return body.get("state")
    return OperationState.SUCCEEDED


# --- the operations timeline -------------------------------------------------------------

TIMELINE_WIDTH = 880
LABEL_WIDTH = 230
ROW_HEIGHT = 24
BAR_HEIGHT = 14
MIN_BAR = 3
# An idle stretch between bursts of work is drawn this wide, whatever its length, so a
# burst a minute after the last is not squeezed into a sliver (the mark says how long).
GAP_WIDTH = 36
# Only a pause this long counts as idle; a shorter one is drawn to scale within its burst
# (the moment between an image's build and the deployment that waited on it).
IDLE_SECONDS = 1.0


@dataclass(frozen=True)
class Bar:
    """One operation on the timeline, from accepted to finished (now, while it runs)."""

    operation_id: str
    label: str
    state: str
    accepted: str
    finished: str | None
    seconds: float
    error: str | None
    href: str
    x: float
    width: float
    y: int

    @property
    def css(self) -> str:
        """The stylesheet class of the outcome."""
        return state_class(self.state)


@dataclass(frozen=True)
class Gap:
    """An idle stretch between bursts, drawn ``GAP_WIDTH`` wide at ``x``."""

    x: float
    seconds: float


@dataclass(frozen=True)
class Timeline:
    """An account's operations laid out for SVG, with the span the axis covers."""

    bars: list[Bar]
    gaps: list[Gap]
    width: int
    height: int
    start: str
    end: str
    seconds: float


@dataclass(frozen=True)
class _Burst:
    start: float
    end: float
    x: float  # where the burst begins on the track


def _bursts(spans: Sequence[tuple[float, float]], track: float) -> tuple[list[_Burst], float]:
    """Busy stretches (spans less than ``IDLE_SECONDS`` apart merged) placed on a track of
    ``track`` pixels, the idle stretches between them drawn ``GAP_WIDTH`` wide; and the
    pixels per busy second."""
    merged: list[list[float]] = []
    for begin, end in sorted(spans):
        if merged and begin <= merged[-1][1] + IDLE_SECONDS:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([begin, end])
    busy = max(sum(end - begin for begin, end in merged), 1e-3)  # pauses included
    scale = max(track - GAP_WIDTH * (len(merged) - 1), MIN_BAR) / busy
    bursts, x = [], 0.0
    for begin, end in merged:
        bursts.append(_Burst(begin, end, x))
        x += (end - begin) * scale + GAP_WIDTH
    return bursts, scale


def _x_of(moment_: float, bursts: Sequence[_Burst], scale: float) -> float:
    burst = next(b for b in reversed(bursts) if b.start <= moment_)
    return burst.x + (min(moment_, burst.end) - burst.start) * scale


def timeline_of(scope: AccountScope, operations: Sequence[OperationRecord], now: float) -> Timeline:
    """Every operation of an account as a bar from accepted to finished (a running one
    reaches ``now``), oldest at the top; time runs left to right at one scale within each
    burst of work, and the idle stretches between bursts are drawn short (``Gap``)."""
    records = sorted(operations, key=lambda record: record.created)
    if not records:
        return Timeline([], [], TIMELINE_WIDTH, ROW_HEIGHT, "—", "—", 0.0)
    spans = [
        (record.created, max(record.created, record.ended if record.ended is not None else now))
        for record in records
    ]
    track = TIMELINE_WIDTH - LABEL_WIDTH - MARGIN
    bursts, scale = _bursts(spans, track)
    bars = []
    for row, (record, (begin, end)) in enumerate(zip(records, spans, strict=True)):
        x = _x_of(begin, bursts, scale)
        width = max(MIN_BAR, _x_of(end, bursts, scale) - x)
        words = ACTION_WORDS.get(record.action, str(record.action))
        bars.append(
            Bar(
                operation_id=record.id,
                label=f"{words} {short(record.resource_id)}",
                state=str(record.state),
                accepted=moment(record.created),
                finished=moment(record.ended) if record.ended is not None else None,
                seconds=round(end - begin, 3),
                error=error_text(record.error),
                href=object_href(scope, record.resource_kind, record.resource_id),
                x=round(LABEL_WIDTH + min(x, track - MIN_BAR), 1),
                width=round(min(width, track - min(x, track - MIN_BAR)), 1),
                y=row * ROW_HEIGHT + (ROW_HEIGHT - BAR_HEIGHT) // 2,
            )
        )
    gaps = [
        Gap(round(LABEL_WIDTH + after.x - GAP_WIDTH, 1), round(after.start - before.end, 3))
        for before, after in itertools.pairwise(bursts)
    ]
    first, last = spans[0][0], max(end for _, end in spans)
    return Timeline(
        bars,
        gaps,
        TIMELINE_WIDTH,
        len(bars) * ROW_HEIGHT,
        moment(first),
        moment(last),
        round(last - first, 3),
    )
