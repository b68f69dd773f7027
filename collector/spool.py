"""The on-disk spool: batches that InfluxDB could not take yet, kept until it can.

SQLite in WAL mode with `synchronous=FULL`: a batch appended here survives SIGKILL and a power
cut, so the collector may acknowledge its messages to the broker. Batches are kept whole (the
line protocol body), oldest first; a redelivered or re-drained batch is harmless because
InfluxDB keeps one point per series and timestamp.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from collector.errors import SpoolError


@dataclass(frozen=True, slots=True)
class SpooledBatch:
    id: int
    body: bytes
    points: int
    created_ms: int


class Spool:
    def __init__(self, path: Path | str, max_points: int = 5_000_000) -> None:
        self.path = Path(path)
        self.max_points = max_points
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS spool (id INTEGER PRIMARY KEY AUTOINCREMENT, body BLOB NOT NULL,"
                " points INTEGER NOT NULL, created_ms INTEGER NOT NULL)"
            )
        except sqlite3.Error as error:
            raise SpoolError(str(self.path), str(error)) from error
        self._points, self._batches = self._totals()

    def _totals(self) -> tuple[int, int]:
        row = self._db.execute("SELECT COALESCE(SUM(points), 0), COUNT(*) FROM spool").fetchone()
        return int(row[0]), int(row[1])

    def append(self, body: bytes, points: int, now_ms: int | None = None) -> None:
        """Store a batch durably. Raises SpoolError when full or failing: the caller must not ack."""
        if self._points + points > self.max_points:
            raise SpoolError(str(self.path), f"full ({self._points} points, limit {self.max_points})")
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO spool (body, points, created_ms) VALUES (?, ?, ?)",
                    (body, points, int(time.time() * 1000) if now_ms is None else now_ms),
                )
            except sqlite3.Error as error:
                raise SpoolError(str(self.path), str(error)) from error
            self._points += points
            self._batches += 1

    def oldest(self) -> SpooledBatch | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, body, points, created_ms FROM spool ORDER BY id LIMIT 1"
            ).fetchone()
        return SpooledBatch(int(row[0]), bytes(row[1]), int(row[2]), int(row[3])) if row else None

    def remove(self, batch: SpooledBatch) -> None:
        with self._lock:
            deleted = self._db.execute("DELETE FROM spool WHERE id = ?", (batch.id,)).rowcount
            if deleted:
                self._points -= batch.points
                self._batches -= 1

    @property
    def points(self) -> int:
        return self._points

    @property
    def batches(self) -> int:
        return self._batches

    def oldest_age_s(self, now_ms: int | None = None) -> float:
        with self._lock:
            row = self._db.execute("SELECT MIN(created_ms) FROM spool").fetchone()
        if row is None or row[0] is None:
            return 0.0
        now = int(time.time() * 1000) if now_ms is None else now_ms
        return max(0.0, (now - int(row[0])) / 1000)

    def close(self) -> None:
        with self._lock:
            self._db.close()
