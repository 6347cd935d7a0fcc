"""The client of each API generation: the one table that picks ``MmsClient`` or
``MmsClient2017_09``."""

from __future__ import annotations

from mms_pulumi.client._client import MmsClient
from mms_pulumi.client._client_2017_09 import MmsClient2017_09
from mms_pulumi.schema import ApiGeneration

CLIENTS: dict[ApiGeneration, type[MmsClient] | type[MmsClient2017_09]] = {
    ApiGeneration.V2017_06: MmsClient,
    ApiGeneration.V2017_09: MmsClient2017_09,
}


def client_class(generation: ApiGeneration | str) -> type[MmsClient] | type[MmsClient2017_09]:
    """The client class that speaks a generation (or its api-version string)."""
    return CLIENTS[ApiGeneration(generation)]
