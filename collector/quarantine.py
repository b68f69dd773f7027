"""Valid readings from devices that are not in the registry, kept apart: a bounded SQLite table.

Anyone allowed to publish under `louyu/<building>/#` can invent device ids. Their readings are not
written to the kinds' measurements (each invented id would be a new InfluxDB series) and never
reach the rules; they are summarised here, one row per device: first and last time heard, how many
messages, the last payload's excerpt. The table holds at most `max_rows` devices; past that, the
devices heard least recently are evicted and counted, so an operator still sees the newest ones
and knows how many fell out. An operator lists them and promotes the real ones into the registry
(`louyu quarantine`).

For the messages it holds, writing this table is the durable step the acknowledgement waits for,
so it is written with `synchronous=FULL`, like the spool.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from collector.models import DeviceKey


@dataclass(slots=True)
class Sighting:
    """What one batch heard from one unknown device."""

    first_ms: int
    last_ms: int
    messages: int
    excerpt: str


@dataclass(frozen=True, slots=True)
class QuarantinedDevice:
    building: str
    kind: str
    device: str
    first_seen_ms: int
    last_seen_ms: int
    messages: int
    excerpt: str

    @property
    def key(self) -> DeviceKey:
        return DeviceKey(self.building, self.kind, self.device)


class Quarantine:
    def __init__(self, path: Path | str, max_rows: int = 10_000, busy_timeout_s: float = 10.0) -> None:
        self.path = Path(path)
        self.max_rows = max_rows
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            self.path, check_same_thread=False, isolation_level=None, timeout=busy_timeout_s
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS quarantine (id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " building TEXT NOT NULL, kind TEXT NOT NULL, device TEXT NOT NULL,"
            " first_seen_ms INTEGER NOT NULL, last_seen_ms INTEGER NOT NULL,"
            " messages INTEGER NOT NULL, excerpt TEXT NOT NULL, UNIQUE (building, kind, device))"
        )
        self._db.execute("CREATE INDEX IF NOT EXISTS quarantine_last_seen ON quarantine (last_seen_ms, id)")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS quarantine_counts (name TEXT PRIMARY KEY, value INTEGER NOT NULL)"
        )

    def add(self, sightings: Iterable[tuple[DeviceKey, Sighting]]) -> int:
        """Record one batch's sightings in one transaction; returns how many devices were evicted."""
        rows = [
            (key.building, key.kind, key.device, s.first_ms, s.last_ms, s.messages, s.excerpt)
            for key, s in sightings
        ]
        if not rows:
            return 0
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(
                    "INSERT INTO quarantine (building, kind, device, first_seen_ms, last_seen_ms, messages,"
                    " excerpt) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (building, kind, device) DO UPDATE"
                    " SET last_seen_ms = max(last_seen_ms, excluded.last_seen_ms),"
                    " messages = messages + excluded.messages, excerpt = excluded.excerpt",
                    rows,
                )
                count = int(db.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0])
                evicted = max(0, count - self.max_rows)
                if evicted:
                    db.execute(
                        "DELETE FROM quarantine WHERE id IN"
                        " (SELECT id FROM quarantine ORDER BY last_seen_ms, id LIMIT ?)",
                        (evicted,),
                    )
                    db.execute(
                        "INSERT INTO quarantine_counts (name, value) VALUES ('evicted', ?)"
                        " ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
                        (evicted,),
                    )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return evicted

    def latest(self, limit: int = 50, building: str | None = None) -> list[QuarantinedDevice]:
        """The devices heard most recently first."""
        query = (
            "SELECT building, kind, device, first_seen_ms, last_seen_ms, messages, excerpt FROM quarantine"
        )
        args: tuple[object, ...] = ()
        if building:
            query += " WHERE building = ?"
            args = (building,)
        query += " ORDER BY last_seen_ms DESC, id DESC LIMIT ?"
        with self._lock:
            rows = self._db.execute(query, (*args, limit)).fetchall()
        return [QuarantinedDevice(*row) for row in rows]

    def get(self, key: DeviceKey) -> QuarantinedDevice | None:
        with self._lock:
            row = self._db.execute(
                "SELECT building, kind, device, first_seen_ms, last_seen_ms, messages, excerpt"
                " FROM quarantine WHERE building = ? AND kind = ? AND device = ?",
                (key.building, key.kind, key.device),
            ).fetchone()
        return QuarantinedDevice(*row) if row else None

    def count(self, building: str | None = None) -> int:
        query = "SELECT COUNT(*) FROM quarantine"
        args: tuple[str, ...] = ()
        if building:
            query, args = query + " WHERE building = ?", (building,)
        with self._lock:
            return int(self._db.execute(query, args).fetchone()[0])

    def messages(self) -> int:
        """Messages counted by the devices still held (evicted devices take theirs with them)."""
        with self._lock:
            return int(self._db.execute("SELECT COALESCE(SUM(messages), 0) FROM quarantine").fetchone()[0])

    def evicted(self) -> int:
        """Devices evicted to respect the bound, since the quarantine was last cleared."""
        with self._lock:
            row = self._db.execute("SELECT value FROM quarantine_counts WHERE name = 'evicted'").fetchone()
        return int(row[0]) if row else 0

    def remove(self, keys: Iterable[DeviceKey]) -> int:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            removed = 0
            for key in keys:
                removed += self._db.execute(
                    "DELETE FROM quarantine WHERE building = ? AND kind = ? AND device = ?",
                    (key.building, key.kind, key.device),
                ).rowcount
            self._db.execute("COMMIT")
        return removed

    def clear(self, building: str | None = None) -> int:
        """Forget the devices held (of one building, or all of them and the eviction count)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            if building:
                removed = self._db.execute("DELETE FROM quarantine WHERE building = ?", (building,)).rowcount
            else:
                removed = self._db.execute("DELETE FROM quarantine").rowcount
                self._db.execute("DELETE FROM quarantine_counts")
            self._db.execute("COMMIT")
        return removed

    def close(self) -> None:
        with self._lock:
            self._db.close()
