"""``GET operations/{id}``: the state of an async operation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from mms_pulumi.emulator.errors import not_found
from mms_pulumi.emulator.operations import operation_body
from mms_pulumi.emulator.routes._common import ACCOUNT_PREFIX, AccountDep, EmulatorDep, answers
from mms_pulumi.schema import Operation

PREFIX = ACCOUNT_PREFIX
router = APIRouter(tags=["operations"])


@router.get("/operations/{operation_id}", **answers(Operation))
def get_operation(operation_id: str, account: AccountDep, emulator: EmulatorDep) -> Any:
    """An operation's state; ``endTime`` and ``error`` once it has ended."""
    record = emulator.store.get_operation(account.key, operation_id)
    if record is None:
        raise not_found("operation", operation_id)
    return operation_body(record)
