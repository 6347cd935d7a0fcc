"""Settings of one emulator instance, from the command line or a test."""

from __future__ import annotations

import functools
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mms_pulumi.emulator.faults import FaultSettings
from mms_pulumi.local import (
    DEFAULT_DATA_DIR,
    DEFAULT_HOST,
    DEFAULT_OPERATION_SECONDS,
    DEFAULT_PORT,
)
from mms_pulumi.schema import API_VERSION

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_PAGE_SIZE = 0
DEFAULT_LOG_LEVEL = "info"
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


FILE_ROOTS_ENV = "MMS_EMULATOR_FILE_ROOTS"


def default_file_roots(environ: Mapping[str, str]) -> tuple[Path, ...]:
    """``$MMS_EMULATOR_FILE_ROOTS`` (``os.pathsep``-separated), else the working directory
    and the home directory; each resolved."""
    listed = [part for part in environ.get(FILE_ROOTS_ENV, "").split(os.pathsep) if part]
    roots = [Path(part) for part in listed] if listed else [Path.cwd(), Path.home()]
    return tuple(dict.fromkeys(root.expanduser().resolve() for root in roots))


@functools.lru_cache(maxsize=64)
def is_loopback(host: str) -> bool:
    """Whether binding to ``host`` keeps the emulator reachable from this machine only
    (remembered: every request asks)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class EmulatorSettings:
    """Everything an emulator instance needs to know; ``base_url`` is set once it listens."""

    data_dir: Path = field(default_factory=lambda: Path(DEFAULT_DATA_DIR))
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    token: str | None = None
    operation_seconds: float = DEFAULT_OPERATION_SECONDS
    page_size: int = DEFAULT_PAGE_SIZE
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    log_level: str = DEFAULT_LOG_LEVEL
    faults: FaultSettings = field(default_factory=FaultSettings)
    api_version: str = API_VERSION
    base_url: str = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"
    run_services: bool = True
    # Refuse scoring requests that carry no key (by default only a wrong key is refused).
    require_scoring_keys: bool = False
    # Where file:// URLs may point: the working directory (the project) and the home
    # directory unless said otherwise.
    file_roots: tuple[Path, ...] = field(default_factory=lambda: default_file_roots(os.environ))

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        if self.operation_seconds < 0:
            raise ValueError("operation_seconds must be 0 or more")
        if self.page_size < 0:
            raise ValueError("page_size must be 0 (bare arrays) or more")
        if self.max_body_bytes <= 0:
            raise ValueError("max_body_bytes must be positive")
        self.file_roots = tuple(Path(root).expanduser().resolve() for root in self.file_roots)

    @property
    def control_enabled(self) -> bool:
        """Whether ``/_emulator/`` (faults, stats, reset; no token) is served: loopback only."""
        return is_loopback(self.host)

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

    def for_replica(self, service_id: str) -> dict[str, Any]:
        """What a scoring process of ``service_id`` needs of these settings to apply the
        emulator's rules itself, as sent on its link (``from_replica`` reads it back)."""
        return {
            "service_id": service_id,
            "data_dir": str(self.data_dir),
            "host": self.host,
            "token": self.token,
            "max_body_bytes": self.max_body_bytes,
            "require_scoring_keys": self.require_scoring_keys,
        }

    @classmethod
    def from_replica(cls, document: Mapping[str, Any]) -> tuple[EmulatorSettings, str]:
        """The settings and service id ``for_replica`` sent."""
        settings = cls(
            data_dir=Path(str(document["data_dir"])),
            host=str(document["host"]),
            token=None if document["token"] is None else str(document["token"]),
            max_body_bytes=int(document["max_body_bytes"]),
            require_scoring_keys=bool(document["require_scoring_keys"]),
            file_roots=(),
        )
        return settings, str(document["service_id"])
