"""The local MMS emulator: the seed API on loopback, durable in SQLite, with real work.

``create_app(settings)`` builds the FastAPI app; ``mms-emulator`` (or ``python -m
mms_pulumi.emulator``) serves it. ``mms_pulumi.emulator.process`` starts one from Python
without importing FastAPI, and the scoring processes import only the standard library, so
names here load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mms_pulumi._lazy import lazy_attributes

if TYPE_CHECKING:
    from mms_pulumi.emulator.app import create_app
    from mms_pulumi.emulator.faults import FaultSettings
    from mms_pulumi.emulator.settings import EmulatorSettings

_MODULE_OF = {
    "create_app": "mms_pulumi.emulator.app",
    "FaultSettings": "mms_pulumi.emulator.faults",
    "EmulatorSettings": "mms_pulumi.emulator.settings",
}

__all__ = ["EmulatorSettings", "FaultSettings", "create_app"]


__getattr__ = lazy_attributes(__name__, globals(), _MODULE_OF)
