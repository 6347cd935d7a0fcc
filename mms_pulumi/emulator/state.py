"""The running emulator's parts, shared by the app and its routes."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from mms_pulumi.emulator.faults import FaultInjector
from mms_pulumi.emulator.operations import OperationRunner
from mms_pulumi.emulator.services import ServiceHost
from mms_pulumi.emulator.settings import EmulatorSettings
from mms_pulumi.emulator.store import Store


@dataclass
class Emulator:
    """Everything a request handler may need, kept on ``app.state.emulator``."""

    settings: EmulatorSettings
    store: Store
    faults: FaultInjector
    host: ServiceHost
    runner: OperationRunner
    requests: Counter[str]
