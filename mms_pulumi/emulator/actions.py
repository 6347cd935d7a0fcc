"""What an async operation does, typed: the ``Action`` it performs and the ``WorkPayload``
the request that started it leaves for the work.

Both are stored with the operation (``OperationRecord``) and read by the runner, the work
handlers and the routes that show an object in flight; declaring them here once keeps the
writers and readers of the payload to the same keys.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from mms_pulumi.schema import OperationType


class Action(StrEnum):
    """The work an operation does."""

    BUILD_IMAGE = "build"
    DEPLOY_SERVICE = "deploy"
    UPDATE_SERVICE = "update"

    @property
    def operation_type(self) -> OperationType:
        """The ``operationType`` the wire shows."""
        return OperationType.IMAGE if self is Action.BUILD_IMAGE else OperationType.SERVICE

    @property
    def resource_kind(self) -> str:
        """The kind of object the operation builds or changes."""
        return "images" if self is Action.BUILD_IMAGE else "services"


@dataclass(frozen=True)
class WorkPayload:
    """What an operation's work needs from the request that started it."""

    # The account's host-relative base path: links to the operation start with it.
    base_path: str = ""
    # A service deployment or update: the image to run, and what MMS records beside it.
    image_id: str | None = None
    manifest_id: str | None = None
    acr_image_pull_secret: str | None = None
    scoring_uri: str | None = None
    # A 2017-09 update: the settings it changes (Python names), as the request gave them.
    settings: dict[str, Any] = field(default_factory=dict)
    # The operation ends Failed (``fail_next_operations`` was pending when it was made).
    inject_failure: bool = False

    def to_dict(self) -> dict[str, Any]:
        """As stored in the operation's JSON."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> WorkPayload:
        """Read back from an operation's JSON; keys it does not know are left out."""
        names = {f.name for f in dataclasses.fields(cls)}
        known = {key: value for key, value in (data or {}).items() if key in names}
        if known.get("settings") is None:
            known.pop("settings", None)
        return cls(**known)
