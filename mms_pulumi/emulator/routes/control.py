"""``/_emulator/``: the emulator's own knobs, kept apart from the MMS API.

Fault settings, counters for reliability figures, a reset for tests and a health probe.
These routes take no bearer token; the emulator binds to loopback by default.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from mms_pulumi.emulator.errors import ApiError
from mms_pulumi.emulator.faults import FaultSettings
from mms_pulumi.emulator.routes._common import EmulatorDep, JsonBody

router = APIRouter(prefix="/_emulator", tags=["emulator"])


@router.get("/health")
def health(emulator: EmulatorDep) -> dict[str, Any]:
    """Whether the emulator is up, and where its data lives."""
    return {
        "status": "ok",
        "dataDir": str(emulator.settings.data_dir.resolve()),
        "operationSeconds": emulator.settings.operation_seconds,
    }


@router.get("/faults")
def get_faults(emulator: EmulatorDep) -> dict[str, Any]:
    """The fault settings in force."""
    return emulator.faults.settings.to_json()


@router.put("/faults")
def set_faults(emulator: EmulatorDep, body: JsonBody = None) -> dict[str, Any]:
    """Replace the fault settings (keys left out take their defaults)."""
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
    """Counters: requests by method and status, faults injected, objects per kind."""
    return {
        "requests": dict(emulator.requests),
        "faults": dict(emulator.faults.counts),
        "objects": emulator.store.counts(),
        "backends": len(emulator.store.backends()),
    }


@router.post("/reset")
def reset(emulator: EmulatorDep) -> dict[str, Any]:
    """Delete every object and operation and stop every service (tests)."""
    for service_id in list(emulator.store.backends()):
        emulator.host.stop(service_id)
    emulator.store.reset()
    emulator.requests.clear()
    emulator.faults.counts.clear()
    return {"status": "reset"}
