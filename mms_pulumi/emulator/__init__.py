"""The local MMS emulator: the seed API on loopback, durable in SQLite, with real work.

``create_app(settings)`` builds the FastAPI app; ``mms-emulator`` (or ``python -m
mms_pulumi.emulator``) serves it. ``ensure_emulator(data_dir, port=...)`` starts one from
Python, or reuses the one already serving that data directory, without importing FastAPI
(``EmulatorProcess`` is the handle it returns). The scoring processes import only the
standard library, so names here load on first use.

This is the emulator's whole face to the rest of the package: the Pulumi side imports
these names and nothing under them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mms_pulumi._lazy import lazy_attributes

if TYPE_CHECKING:
    from mms_pulumi.emulator.app import create_app
    from mms_pulumi.emulator.faults import FaultSettings
    from mms_pulumi.emulator.process import EmulatorProcess, EmulatorStartError, ensure_emulator
    from mms_pulumi.emulator.settings import EmulatorSettings

_MODULE_OF = {
    "create_app": "mms_pulumi.emulator.app",
    "FaultSettings": "mms_pulumi.emulator.faults",
    "EmulatorProcess": "mms_pulumi.emulator.process",
    "EmulatorStartError": "mms_pulumi.emulator.process",
    "ensure_emulator": "mms_pulumi.emulator.process",
    "EmulatorSettings": "mms_pulumi.emulator.settings",
}

__all__ = [
    "EmulatorProcess",
    "EmulatorSettings",
    "EmulatorStartError",
    "FaultSettings",
    "create_app",
    "ensure_emulator",
]


__getattr__ = lazy_attributes(__name__, globals(), _MODULE_OF)
