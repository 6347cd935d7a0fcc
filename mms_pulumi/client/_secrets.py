"""Secrets out of error text: what a request carried that no error may repeat (pure).

A service may quote what it was sent ("invalid token 'eyJ…' for user u"), and a hostile
one will. ``Secrets.of`` gathers every secret of a request body: values under
secret-named fields (passwords, tokens, keys) and every credential inside a kubeconfig
(each user's token, password, client key and certificate, auth-provider config, exec
environment). ``Secrets.scrub`` then replaces, in any text, each whole secret and any
run of it at least ``SUBSTRING_CHARS`` long (a quote cut short, or a secret split across a
line) with ``***``. The kubeconfig document itself is removed only whole: most of it
(``apiVersion: v1``, a server URL) is not secret, its credentials are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from mms_pulumi.schema import parse_kube_config

# Request fields whose values are secrets (registryInfo.password, kubeConfig, keys, tokens).
SECRET_FIELD = re.compile(r"password|secret|token|key|kubeconfig|credential", re.IGNORECASE)
KUBE_CONFIG_FIELD = re.compile(r"kube_?config", re.IGNORECASE)
SHORTEST_SECRET = 4  # shorter values are too likely to occur in any text
SUBSTRING_CHARS = 8  # a run of a secret this long is scrubbed wherever it appears
MASK = "***"


@dataclass(frozen=True)
class Secrets:
    """Secrets to keep out of text: ``partial`` ones in any run of ``SUBSTRING_CHARS``,
    ``whole`` ones (documents mostly not secret) only entire."""

    partial: frozenset[str] = field(default_factory=frozenset)
    whole: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, body: Any, *extra: str) -> Secrets:
        """The secrets of a request body (any depth), plus ``extra`` (the bearer token)."""
        partial: set[str] = {value for value in extra if len(value) >= SHORTEST_SECRET}
        whole: set[str] = set()
        _collect(body, False, partial, whole)
        return cls(frozenset(partial), frozenset(whole))

    def scrub(self, text: str) -> str:
        """``text`` with every secret, and every long enough run of one, replaced."""
        for secret in sorted(self.whole, key=len, reverse=True):
            text = text.replace(secret, MASK)
        if not self.partial or not text:
            return text
        covered = bytearray(len(text))
        for secret in self.partial:
            length = min(len(secret), SUBSTRING_CHARS)
            runs = {secret[i : i + length] for i in range(len(secret) - length + 1)}
            for start in range(len(text) - length + 1):
                if text[start : start + length] in runs:
                    covered[start : start + length] = b"\x01" * length
        return _masked(text, covered)


def _masked(text: str, covered: bytearray) -> str:
    out: list[str] = []
    index = 0
    while index < len(text):
        if covered[index]:
            while index < len(text) and covered[index]:
                index += 1
            out.append(MASK)
        else:
            out.append(text[index])
            index += 1
    return "".join(out)


def _collect(value: Any, secret: bool, partial: set[str], whole: set[str]) -> None:
    if isinstance(value, str):
        if secret and len(value) >= SHORTEST_SECRET:
            partial.add(value)
    elif isinstance(value, dict):
        for name, item in value.items():
            if isinstance(item, str) and KUBE_CONFIG_FIELD.search(str(name)):
                if len(item) >= SHORTEST_SECRET:
                    whole.add(item)
                partial.update(kube_config_credentials(item))
                continue
            _collect(item, secret or bool(SECRET_FIELD.search(str(name))), partial, whole)
    elif isinstance(value, list):
        for item in value:
            _collect(item, secret, partial, whole)


def kube_config_credentials(text: str) -> set[str]:
    """Every credential a kubeconfig carries: each string under each user's ``user``
    (token, password, client-key-data, auth-provider config, exec env...), and any value
    under a secret-named key elsewhere. Nothing for a document that does not parse."""
    try:
        document = parse_kube_config(text)
    except ValueError:
        return set()
    found: set[str] = set()
    users = document.get("users")
    for entry in users if isinstance(users, list) else []:
        if isinstance(entry, dict):
            found.update(_strings(entry.get("user")))
    _collect({k: v for k, v in document.items() if k != "users"}, False, found, set())
    return {value for value in found if len(value) >= SHORTEST_SECRET}


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
