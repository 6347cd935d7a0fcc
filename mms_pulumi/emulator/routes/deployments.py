"""``GET deployments``: the rollout history of 2017-09 services (mms-api.md §5, §5.1).

One deployment per service create or update: its image, its status, when it was made and,
once a later one replaced it, when it expired. A plain array, filtered by ``serviceId``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from mms_pulumi.emulator.errors import not_found
from mms_pulumi.emulator.records import public
from mms_pulumi.emulator.routes._common import AccountDep, StoreDep, answers
from mms_pulumi.schema_2017_09 import Deployment

# Mounted under the 2017-09 account paths only.
router = APIRouter(tags=["deployments"])


@router.get("/deployments", **answers(list[Deployment]))
def list_deployments(
    account: AccountDep,
    store: StoreDep,
    service_id: Annotated[str | None, Query(alias="serviceId")] = None,
) -> Any:
    """Every deployment of the account, or those of one service, oldest first."""
    return [public(body) for body in store.select("deployments", account.key, name=service_id)]


@router.get("/deployments/{deployment_id}", **answers(Deployment))
def get_deployment(deployment_id: str, account: AccountDep, store: StoreDep) -> Any:
    """One deployment."""
    found = store.get("deployments", account.key, deployment_id)
    if found is None:
        raise not_found("deployment", deployment_id)
    return public(found)
