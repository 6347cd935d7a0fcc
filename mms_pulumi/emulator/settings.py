"""Settings of one emulator instance, from the command line or a test."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mms_pulumi.emulator.faults import FaultSettings
from mms_pulumi.schema import API_VERSION

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5080
DEFAULT_DATA_DIR = ".mms-emulator"
DEFAULT_OPERATION_SECONDS = 2.0
DEFAULT_MAX_BODY_BYTES = 1024 * 1024


@dataclass
class EmulatorSettings:
    """Everything an emulator instance needs to know; ``base_url`` is set once it listens."""

    data_dir: Path = field(default_factory=lambda: Path(DEFAULT_DATA_DIR))
    token: str | None = None
    operation_seconds: float = DEFAULT_OPERATION_SECONDS
    page_size: int = 0
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    faults: FaultSettings = field(default_factory=FaultSettings)
    api_version: str = API_VERSION
    base_url: str = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"
    run_services: bool = True

    @property
    def database(self) -> Path:
        """The SQLite file holding every object and operation."""
        return self.data_dir / "mms.sqlite3"

    @property
    def bundles_dir(self) -> Path:
        """Where built image bundles live, by content digest."""
        return self.data_dir / "bundles"

    @property
    def logs_dir(self) -> Path:
        """Scoring processes' logs."""
        return self.data_dir / "logs"
