"""Which account a request is about, in which API generation: read once, from the path."""

from __future__ import annotations

from dataclasses import dataclass

from mms_pulumi.emulator.records import ACCOUNTS_SCOPE
from mms_pulumi.schema import ApiGeneration, account_path


def path_generation(path: str) -> ApiGeneration:
    """The API generation a request path belongs to: ``…/accounts/…`` is 2017-09."""
    parts = path.split("/")
    return (
        ApiGeneration.V2017_09
        if len(parts) > 6 and parts[6] == "accounts"
        else (ApiGeneration.V2017_06)
    )


@dataclass(frozen=True)
class AccountScope:
    """The (subscription, resource group, account) an object belongs to, in one generation:
    a ``hostingAccounts`` account and an ``accounts`` one of the same name are apart."""

    subscription_id: str
    resource_group: str
    hosting_account: str
    generation: ApiGeneration = ApiGeneration.V2017_06

    @property
    def key(self) -> str:
        """The scope key objects are stored under."""
        key = f"{self.subscription_id}/{self.resource_group}/{self.hosting_account}"
        # Accounts of the two path families are apart (mms-api.md §7), so a 2017-09 scope
        # is prefixed; 2017-06 keys stay as existing data directories hold them.
        # generation: a column in place of the prefix comes with the emulator backend.
        return key if self.generation is ApiGeneration.V2017_06 else f"{ACCOUNTS_SCOPE}{key}"

    @property
    def base_path(self) -> str:
        """The account's host-relative base path, as links to its objects start."""
        return account_path(
            self.subscription_id, self.resource_group, self.hosting_account, self.generation
        )

    @property
    def v2017_09(self) -> bool:
        """Whether the request speaks 2017-09 (``accounts`` paths)."""
        # generation: the one place the routes learn it, from the path (``account_scope``).
        return self.generation is ApiGeneration.V2017_09


def generation_of_key(key: str) -> ApiGeneration:
    """The generation of a stored scope key (``AccountScope.key``): the one reader of it,
    for work and scoring, which find objects by key rather than by path."""
    # generation: the key's prefix says it until the store keeps it in a column.
    return ApiGeneration.V2017_09 if key.startswith(ACCOUNTS_SCOPE) else ApiGeneration.V2017_06


def scope_of_key(key: str) -> AccountScope:
    """The account a stored scope key names (the inverse of ``AccountScope.key``)."""
    generation = generation_of_key(key)
    # generation: the prefix ``AccountScope.key`` puts on a 2017-09 key comes off.
    bare = key.removeprefix(ACCOUNTS_SCOPE) if generation is ApiGeneration.V2017_09 else key
    subscription_id, resource_group, account = bare.split("/", 2)
    return AccountScope(subscription_id, resource_group, account, generation)
