"""``/_emulator/``: the emulator's own knobs, kept apart from the MMS API.

A health probe (always), and where the emulator is bound to loopback only: fault
settings, counters for reliability figures and a reset for tests. None of these take a
bearer token.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from mms_pulumi.emulator.bundles import collect_garbage
from mms_pulumi.emulator.errors import ApiError
from mms_pulumi.emulator.faults import FaultSettings
from mms_pulumi.emulator.routes._common import EmulatorDep, JsonBody
from mms_pulumi.emulator.work import read_build_log
from mms_pulumi.schema import EmulatorHealth

PREFIX = "/_emulator"
health_router = APIRouter(prefix=PREFIX, tags=["emulator"])
router = APIRouter(prefix=PREFIX, tags=["emulator"])


@health_router.get("/health", response_model=None, responses={200: {"model": EmulatorHealth}})
def health(emulator: EmulatorDep) -> dict[str, Any]:
    """Whether the emulator is up; on loopback also its process id and data directory."""
    settings = emulator.settings
    answer = EmulatorHealth(status="ok", api_version=settings.api_version)
    if settings.control_enabled:
        answer = answer.model_copy(
            update={
                "pid": os.getpid(),
                "data_dir": str(settings.data_dir.resolve()),
                "operation_seconds": settings.operation_seconds,
            }
        )
    return answer.to_wire()


@router.get("/faults")
def get_faults(emulator: EmulatorDep) -> dict[str, Any]:
    """The fault settings in force (``fail_next_operations`` counts down as it is used)."""
    return emulator.faults.settings.to_json()


@router.put("/faults")
def set_faults(emulator: EmulatorDep, body: JsonBody = None) -> dict[str, Any]:
    """Replace the fault settings (keys left out take their defaults: off)."""
    if not isinstance(body, dict):
        raise ApiError(400, "Send the fault settings as a JSON object.")
    try:
        settings = FaultSettings.from_json(body)
    except (TypeError, ValueError) as err:
        raise ApiError(400, f"Invalid fault settings: {err}") from None
    emulator.faults.configure(settings)
    return settings.to_json()


@router.delete("/faults")
def clear_faults(emulator: EmulatorDep) -> dict[str, Any]:
    """Switch every fault off."""
    emulator.faults.configure(FaultSettings())
    return emulator.faults.settings.to_json()


@router.get("/stats")
def stats(emulator: EmulatorDep) -> dict[str, Any]:
    """Counters: requests by method and status, faults injected by kind, objects per kind."""
    return {
        "requests": dict(emulator.requests),
        "faults": dict(emulator.faults.counts),
        "objects": emulator.store.counts(),
        "backends": sum(len(group) for group in emulator.store.replicas().values()),
        # Every scoring process running, serving or still starting (``backends`` serve).
        "processes": len(emulator.store.processes()),
    }


@router.get("/services/{service_id}/logs", response_class=PlainTextResponse)
def service_logs(service_id: str, emulator: EmulatorDep) -> PlainTextResponse:
    """The end of a service's log: its scoring processes' output and the driver's prints
    (as the real service's container logs were), at most the last 64 KiB."""
    if emulator.store.get_any("services", service_id) is None:
        raise ApiError(404, f"No service with id {service_id}.")
    return PlainTextResponse(emulator.host.log_tail(service_id))


@router.get("/images/{image_id}/buildlog", response_class=PlainTextResponse)
def build_log(image_id: str, emulator: EmulatorDep) -> PlainTextResponse:
    """An image's build log (the 2017-09 ``imageBuildLogUri`` points here)."""
    known = emulator.store.get_any("images", image_id) is not None
    text = read_build_log(emulator.settings.logs_dir, image_id) if known else None
    if text is None:
        raise ApiError(404, f"No build log for image {image_id}.")
    return PlainTextResponse(text)


@router.post("/reset")
def reset(emulator: EmulatorDep) -> dict[str, Any]:
    """Delete every object and operation, stop every service, zero the counters (tests).

    Fault settings stay as they are; ``DELETE /_emulator/faults`` clears them.
    """
    for service_id in sorted({*emulator.store.replicas(), *emulator.host.service_ids()}):
        emulator.host.stop(service_id)
    emulator.store.reset()
    collect_garbage(emulator.settings.bundles_dir, [])
    emulator.requests.clear()
    emulator.faults.counts.clear()
    return {"status": "reset"}
