"""The running emulator's parts, shared by the app and its routes."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from mms_pulumi.emulator.backend import MmsBackend
from mms_pulumi.emulator.console.security import SignedOut, new_secret
from mms_pulumi.emulator.faults import FaultInjector
from mms_pulumi.emulator.operations import OperationRunner
from mms_pulumi.emulator.replicas import ReplicaClient
from mms_pulumi.emulator.scoring_rules import CALL_SLOTS
from mms_pulumi.emulator.services import ServiceHost
from mms_pulumi.emulator.settings import EmulatorSettings
from mms_pulumi.emulator.store import ScoringIndex, Store


@dataclass
class Slots:
    """A count of calls in flight, taken and given back on the event loop only (so it
    needs no lock, and costs no task or checkpoint as a capacity limiter would)."""

    total: int
    busy: int = 0

    def take(self) -> bool:
        """Take a slot; ``False`` when all are busy."""
        if self.busy >= self.total:
            return False
        self.busy += 1
        return True

    def give(self) -> None:
        """Give a taken slot back."""
        self.busy -= 1


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
    # Scoring calls wait on driver code: at most this many at once, so hung drivers never
    # take what the MMS API's routes need.
    scoring_slots: Slots = field(default_factory=lambda: Slots(CALL_SLOTS))

    # Signs the console's session cookies and CSRF tokens; new at every start.
    console_secret: bytes = field(default_factory=new_secret, repr=False)
    console_signed_out: SignedOut = field(default_factory=SignedOut)

    @property
    def backend(self) -> MmsBackend:
        """The rules of the MMS operations, over this emulator's store."""
        return MmsBackend(self.store, self.runner, self.host)
