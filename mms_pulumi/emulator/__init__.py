"""The local MMS emulator: the seed API on loopback, durable in SQLite, with real work.

``create_app(settings)`` builds the FastAPI app; ``mms-emulator`` (or ``python -m
mms_pulumi.emulator``) serves it. ``mms_pulumi.emulator.process`` starts one from Python
without importing FastAPI.
"""

from mms_pulumi.emulator.app import create_app
from mms_pulumi.emulator.faults import FaultSettings
from mms_pulumi.emulator.settings import EmulatorSettings

__all__ = ["EmulatorSettings", "FaultSettings", "create_app"]
