"""The emulator's state in SQLite: objects, async operations and running backends.

Every write commits before the HTTP answer is sent (WAL, ``synchronous=FULL``), so an
acknowledged object survives ``kill -9``. One connection guarded by a lock serves all
threads; transactions are short.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mms_pulumi.emulator.actions import Action, WorkPayload
from mms_pulumi.emulator.records import new_keys
from mms_pulumi.schema import AuthKeys, OperationState, OperationType

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    kind TEXT NOT NULL,
    scope TEXT NOT NULL,
    id TEXT NOT NULL,
    name TEXT,
    version INTEGER,
    body TEXT NOT NULL,
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    UNIQUE (kind, id)
);
-- name: the series an object belongs to (a model's name, a service's name, an image's
-- manifest id), which versions count in and service names are unique in.
CREATE INDEX IF NOT EXISTS objects_by_name ON objects (kind, scope, name);
CREATE TABLE IF NOT EXISTS operations (
    id TEXT PRIMARY KEY,
    scope TEXT NOT NULL,
    record TEXT NOT NULL,
    finished INTEGER NOT NULL DEFAULT 0
);
-- Data directories from before images were numbered per manifest: file them under it.
UPDATE objects SET name = json_extract(body, '$.manifestId')
    WHERE kind = 'images' AND name IS NULL;
-- A service's scoring keys, apart from its body so an operation finishing never
-- overwrites keys regenerated meanwhile.
CREATE TABLE IF NOT EXISTS service_keys (
    service_id TEXT PRIMARY KEY,
    keys TEXT NOT NULL
);
-- Data directories from before registry passwords were dropped: drop them.
UPDATE objects SET body = json_remove(body, '$.registryInfo.password')
    WHERE kind = 'images' AND json_extract(body, '$.registryInfo.password') IS NOT NULL;
-- Every scoring process of a service (several with replicas), by process identity.
CREATE TABLE IF NOT EXISTS replicas (
    service_id TEXT NOT NULL,
    pid INTEGER NOT NULL,
    port INTEGER NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (service_id, pid)
);
-- Every scoring process started and not yet stopped, routed or not, recorded before any
-- driver code runs: what an emulator that crashed left behind, for the next to stop.
CREATE TABLE IF NOT EXISTS processes (
    pid INTEGER NOT NULL,
    created REAL NOT NULL,
    service_id TEXT NOT NULL,
    PRIMARY KEY (pid, created)
);
-- Before replicas: one process per service (kept so older data directories still open).
CREATE TABLE IF NOT EXISTS backends (
    service_id TEXT PRIMARY KEY,
    pid INTEGER NOT NULL,
    port INTEGER NOT NULL
);
"""


@dataclass
class OperationRecord:
    """An async operation as the emulator tracks it (times are epoch seconds)."""

    id: str
    scope: str
    operation_type: OperationType
    action: Action
    resource_kind: str  # "images" | "services"
    resource_id: str
    resource_location: str
    created: float
    not_before: float
    state: OperationState = OperationState.NOT_STARTED
    ended: float | None = None
    error: dict[str, Any] | None = None
    payload: WorkPayload = field(default_factory=WorkPayload)

    def move_to(self, new: OperationState) -> None:
        """Move along the schema's transition table (``IllegalTransition`` otherwise)."""
        self.state = self.state.advance(new)

    def to_json(self) -> str:
        """Serialized for the ``operations`` table."""
        return json.dumps({**self.__dict__, "payload": self.payload.to_dict()}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> OperationRecord:
        """Read back from the ``operations`` table."""
        fields = json.loads(text)
        return cls(
            **{
                **fields,
                "state": OperationState(fields["state"]),
                "operation_type": OperationType(fields["operation_type"]),
                "action": Action(fields["action"]),
                "payload": WorkPayload.from_dict(fields.get("payload")),
            }
        )


OBJECT_KINDS = ("models", "manifests", "images", "services")


class NameTaken(Exception):
    """An object of that name already exists in the account."""


@dataclass
class NewObject:
    """An object about to be stored, with the operation that will build it, if any."""

    id: str
    body: dict[str, Any]
    operation: OperationRecord | None = None


class Store:
    """All persistent state of one emulator instance."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(backends)")}
        if "created" in columns:  # move rows of the one-process table, once
            self._db.execute(
                "INSERT OR IGNORE INTO replicas SELECT service_id, pid, port, created "
                "FROM backends WHERE created IS NOT NULL"
            )
        self._db.execute("DELETE FROM backends")

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic, durable unit of work."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # --- objects -----------------------------------------------------------------------------

    def create(
        self,
        kind: str,
        scope: str,
        make: Callable[[int | None], NewObject],
        *,
        name: str | None = None,
        versioned: bool = False,
        unique_name: bool = False,
    ) -> NewObject:
        """Store a new object (and the operation that builds it) in one durable transaction.

        ``name`` is the series the object belongs to: versions are 1, 2, 3 … per series
        without gaps when ``versioned``; ``unique_name`` raises ``NameTaken`` if the account
        already holds an object of that name. ``make`` receives the version (or ``None``).
        """
        with self.transaction() as db:
            if unique_name:
                taken = db.execute(
                    "SELECT 1 FROM objects WHERE kind=? AND scope=? AND name=?", (kind, scope, name)
                ).fetchone()
                if taken:
                    raise NameTaken(name or "")
            version = None
            if versioned:
                row = db.execute(
                    "SELECT MAX(version) FROM objects WHERE kind=? AND scope=? AND name=?",
                    (kind, scope, name),
                ).fetchone()
                version = (row[0] or 0) + 1
            new = make(version)
            db.execute(
                "INSERT INTO objects (kind, scope, id, name, version, body) VALUES (?,?,?,?,?,?)",
                (kind, scope, new.id, name, version, json.dumps(new.body)),
            )
            if new.operation is not None:
                self._write_operation(db, new.operation, insert=True)
            return new

    def put(self, kind: str, scope: str, ident: str, body: dict[str, Any]) -> None:
        """Replace an existing object's body."""
        with self.transaction() as db:
            db.execute(
                "UPDATE objects SET body=? WHERE kind=? AND scope=? AND id=?",
                (json.dumps(body), kind, scope, ident),
            )

    def get(self, kind: str, scope: str, ident: str) -> dict[str, Any] | None:
        """An object of this account, or ``None``."""
        with self._lock:
            row = self._db.execute(
                "SELECT body FROM objects WHERE kind=? AND scope=? AND id=?", (kind, scope, ident)
            ).fetchone()
        return json.loads(row[0]) if row else None

    def get_any(self, kind: str, ident: str) -> tuple[str, dict[str, Any]] | None:
        """An object of any account with its scope (for internal routes)."""
        with self._lock:
            row = self._db.execute(
                "SELECT scope, body FROM objects WHERE kind=? AND id=?", (kind, ident)
            ).fetchone()
        return (row[0], json.loads(row[1])) if row else None

    def select(self, kind: str, scope: str, *, name: str | None = None) -> list[dict[str, Any]]:
        """Objects of this account in creation order, optionally of one name."""
        query = "SELECT body FROM objects WHERE kind=? AND scope=?"
        args: tuple[Any, ...] = (kind, scope)
        if name is not None:
            query += " AND name=?"
            args += (name,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY seq", args).fetchall()
        return [json.loads(row[0]) for row in rows]

    def all(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        """Every object of a kind over all accounts, with its scope (startup restore)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT scope, body FROM objects WHERE kind=? ORDER BY seq", (kind,)
            ).fetchall()
        return [(scope, json.loads(body)) for scope, body in rows]

    def delete(self, kind: str, scope: str, ident: str) -> bool:
        """Remove an object (and a service's keys); ``False`` when there was none."""
        with self.transaction() as db:
            cursor = db.execute(
                "DELETE FROM objects WHERE kind=? AND scope=? AND id=?", (kind, scope, ident)
            )
            if cursor.rowcount and kind == "services":
                db.execute("DELETE FROM service_keys WHERE service_id=?", (ident,))
            return cursor.rowcount > 0

    # --- scoring keys ------------------------------------------------------------------------

    def keys_of(self, service_id: str) -> dict[str, Any] | None:
        """A service's scoring keys (their wire body), or ``None`` when it has none yet."""
        with self._lock:
            row = self._db.execute(
                "SELECT keys FROM service_keys WHERE service_id=?", (service_id,)
            ).fetchone()
        return json.loads(row[0]) if row else None

    def keys_made(self, service_id: str) -> dict[str, Any]:
        """A service's scoring keys, made now (once, atomically) when it has none yet: a
        service from before keys. A read, and a write only that first time."""
        keys = self.keys_of(service_id)
        if keys is None:
            keys = self.change_keys(service_id, lambda current: current or new_keys())
        return keys

    def change_keys(
        self, service_id: str, change: Callable[[dict[str, Any] | None], dict[str, Any]]
    ) -> dict[str, Any]:
        """Replace a service's keys with ``change(current)`` atomically; the new keys."""
        with self.transaction() as db:
            row = db.execute(
                "SELECT keys FROM service_keys WHERE service_id=?", (service_id,)
            ).fetchone()
            keys = change(json.loads(row[0]) if row else None)
            db.execute(
                "INSERT OR REPLACE INTO service_keys (service_id, keys) VALUES (?,?)",
                (service_id, json.dumps(keys)),
            )
        return keys

    def counts(self) -> dict[str, int]:
        """How many objects of each kind (and operations) there are, over all accounts."""
        found = dict.fromkeys(OBJECT_KINDS, 0)
        with self._lock:
            rows = self._db.execute("SELECT kind, COUNT(*) FROM objects GROUP BY kind").fetchall()
            (operations,) = self._db.execute("SELECT COUNT(*) FROM operations").fetchone()
        found.update({kind: count for kind, count in rows})
        found["operations"] = operations
        return found

    # --- operations --------------------------------------------------------------------------

    def start_operation(
        self, record: OperationRecord, kind: str, ident: str, body: dict[str, Any]
    ) -> None:
        """Store a new operation on an existing object and the object's new body, atomically."""
        with self.transaction() as db:
            self._write_operation(db, record, insert=True)
            db.execute(
                "UPDATE objects SET body=? WHERE kind=? AND id=?", (json.dumps(body), kind, ident)
            )

    def save_operation(self, record: OperationRecord) -> None:
        """Store an operation's new state."""
        with self.transaction() as db:
            self._write_operation(db, record, insert=False)

    def save_operation_and_object(
        self, record: OperationRecord, kind: str, ident: str, body: dict[str, Any]
    ) -> None:
        """Finish an operation and update the object it changed, atomically."""
        with self.transaction() as db:
            self._write_operation(db, record, insert=False)
            db.execute(
                "UPDATE objects SET body=? WHERE kind=? AND id=?", (json.dumps(body), kind, ident)
            )

    @staticmethod
    def _write_operation(db: sqlite3.Connection, record: OperationRecord, *, insert: bool) -> None:
        finished = int(record.state.is_terminal)
        if insert:
            db.execute(
                "INSERT INTO operations (id, scope, record, finished) VALUES (?,?,?,?)",
                (record.id, record.scope, record.to_json(), finished),
            )
        else:
            db.execute(
                "UPDATE operations SET record=?, finished=? WHERE id=?",
                (record.to_json(), finished, record.id),
            )

    def get_operation(self, scope: str, ident: str) -> OperationRecord | None:
        """An operation of this account, or ``None``."""
        with self._lock:
            row = self._db.execute(
                "SELECT record FROM operations WHERE scope=? AND id=?", (scope, ident)
            ).fetchone()
        return OperationRecord.from_json(row[0]) if row else None

    def operations_of(self, scope: str) -> list[OperationRecord]:
        """Every operation of this account, oldest first (the console's timeline)."""
        with self._lock:
            rows = self._db.execute("SELECT record FROM operations WHERE scope=?", (scope,))
            records = [OperationRecord.from_json(row[0]) for row in rows.fetchall()]
        return sorted(records, key=lambda record: record.created)

    def scopes(self) -> dict[str, dict[str, int]]:
        """Every account that holds an object, as scope key → objects per kind."""
        with self._lock:
            rows = self._db.execute(
                "SELECT scope, kind, COUNT(*) FROM objects GROUP BY scope, kind ORDER BY scope"
            ).fetchall()
        found: dict[str, dict[str, int]] = {}
        for scope, kind, count in rows:
            found.setdefault(scope, dict.fromkeys(OBJECT_KINDS, 0))[kind] = count
        return found

    def unfinished_operations(self) -> list[OperationRecord]:
        """Every operation not yet in a terminal state."""
        with self._lock:
            rows = self._db.execute("SELECT record FROM operations WHERE finished=0").fetchall()
        return [OperationRecord.from_json(row[0]) for row in rows]

    # --- backends ----------------------------------------------------------------------------

    def set_replicas(self, service_id: str, processes: list[tuple[int, int, float]]) -> None:
        """Record the scoring processes now serving a service: (pid, port, start time)."""
        with self.transaction() as db:
            db.execute("DELETE FROM replicas WHERE service_id=?", (service_id,))
            db.executemany(
                "INSERT INTO replicas (service_id, pid, port, created) VALUES (?,?,?,?)",
                [(service_id, pid, port, created) for pid, port, created in processes],
            )

    def clear_replicas(self, service_id: str) -> None:
        """Forget a service's scoring processes."""
        with self.transaction() as db:
            db.execute("DELETE FROM replicas WHERE service_id=?", (service_id,))

    def add_process(self, service_id: str, pid: int, created: float) -> None:
        """Record a scoring process the moment it exists."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO processes (pid, created, service_id) VALUES (?,?,?)",
                (pid, created, service_id),
            )

    def remove_process(self, pid: int, created: float) -> None:
        """Forget a scoring process that has been stopped."""
        with self.transaction() as db:
            db.execute("DELETE FROM processes WHERE pid=? AND created=?", (pid, created))

    def processes(self) -> list[tuple[str, int, float]]:
        """(service id, pid, start time) of every scoring process not known to be stopped."""
        with self._lock:
            rows = self._db.execute(
                "SELECT service_id, pid, created FROM processes ORDER BY service_id, pid"
            ).fetchall()
        return [(service_id, pid, created) for service_id, pid, created in rows]

    def replicas(self) -> dict[str, list[tuple[int, int, float]]]:
        """service id → (pid, port, start time) of every recorded scoring process."""
        with self._lock:
            rows = self._db.execute(
                "SELECT service_id, pid, port, created FROM replicas ORDER BY service_id, pid"
            ).fetchall()
        found: dict[str, list[tuple[int, int, float]]] = {}
        for service_id, pid, port, created in rows:
            found.setdefault(service_id, []).append((pid, port, created))
        return found

    def reset(self) -> None:
        """Delete everything (tests)."""
        with self.transaction() as db:
            for table in ("objects", "operations", "service_keys", "replicas"):
                db.execute(f"DELETE FROM {table}")


@dataclass(frozen=True)
class ScoringEntry:
    """What a scoring call needs of its service: the account it is in, and its keys
    (``None`` for a service from before keys, which gets them on first use)."""

    scope: str
    keys: AuthKeys | None


class ScoringIndex:
    """Every service's account and keys, in memory, for the scoring path: a call reads no
    row and writes none.

    The index has its own connection and asks SQLite at each look whether any other
    connection (this emulator's store, or another process on the same data directory)
    committed since it last loaded (``PRAGMA data_version``, a read of WAL shared memory);
    then it loads again. So a key regenerated anywhere is refused at the very next call,
    and a restart starts from the table.
    """

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA busy_timeout=5000")
        self._version: int | None = None
        self._entries: dict[str, ScoringEntry] = {}

    def close(self) -> None:
        """Close the index's connection."""
        with self._lock:
            self._db.close()

    def entry(self, service_id: str) -> ScoringEntry | None:
        """The service's account and keys as committed now, or ``None`` for no service."""
        with self._lock:
            (version,) = self._db.execute("PRAGMA data_version").fetchone()
            if version != self._version:
                self._entries = self._load()
                self._version = version
            return self._entries.get(service_id)

    def _load(self) -> dict[str, ScoringEntry]:
        # One read transaction: the services and their keys as of one commit.
        self._db.execute("BEGIN")
        try:
            services = self._db.execute(
                "SELECT id, scope FROM objects WHERE kind='services'"
            ).fetchall()
            keys = dict(self._db.execute("SELECT service_id, keys FROM service_keys").fetchall())
        finally:
            self._db.execute("COMMIT")
        return {
            ident: ScoringEntry(
                scope, AuthKeys.model_validate_json(keys[ident]) if ident in keys else None
            )
            for ident, scope in services
        }
