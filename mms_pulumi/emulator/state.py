"""The running emulator's parts, shared by the app and its routes."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import anyio

from mms_pulumi.emulator.backend import MmsBackend
from mms_pulumi.emulator.console.security import SignedOut, new_secret
from mms_pulumi.emulator.faults import FaultInjector
from mms_pulumi.emulator.operations import OperationRunner
from mms_pulumi.emulator.replicas import ReplicaClient
from mms_pulumi.emulator.services import ServiceHost
from mms_pulumi.emulator.settings import EmulatorSettings
from mms_pulumi.emulator.store import ScoringIndex, Store


@dataclass
class Emulator:
    """Everything a request handler may need, kept on ``app.state.emulator``."""

    settings: EmulatorSettings
    store: Store
    faults: FaultInjector
    host: ServiceHost
    runner: OperationRunner
    requests: Counter[str]
    # Every service's account and keys, in memory, for the scoring path.
    scoring_index: ScoringIndex
    # Keep-alive connections to the scoring processes (used on the event loop only).
    replica_client: ReplicaClient = field(default_factory=ReplicaClient)
    # Scoring calls wait on driver code: they run on threads of their own, at most this
    # many at once, so hung drivers never take the threads the MMS API's routes run on.
    scoring_slots: anyio.CapacityLimiter = field(
        default_factory=lambda: anyio.CapacityLimiter(SCORING_CONCURRENCY)
    )

    # Signs the console's session cookies and CSRF tokens; new at every start.
    console_secret: bytes = field(default_factory=new_secret, repr=False)
    console_signed_out: SignedOut = field(default_factory=SignedOut)

    @property
    def backend(self) -> MmsBackend:
        """The rules of the MMS operations, over this emulator's store."""
        return MmsBackend(self.store, self.runner, self.host)


SCORING_CONCURRENCY = 32
