"""Rejected messages, kept where an operator can read them: a bounded SQLite table.

Each row holds the topic, an excerpt of the payload, the reason, the explanation and the time.
The newest `max_rows` are kept; older rows are dropped (the per-reason counters keep counting).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from collector.models import Rejection


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: int
    received_ms: int
    reason: str
    detail: str
    topic: str
    excerpt: str


@dataclass(frozen=True, slots=True)
class RejectionCounts:
    by_reason: dict[str, int]
    complete: bool


class DeadLetters:
    def __init__(self, path: Path | str, max_rows: int = 10_000) -> None:
        self.path = Path(path)
        self.max_rows = max_rows
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS dead_letters (id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " received_ms INTEGER NOT NULL, reason TEXT NOT NULL, detail TEXT NOT NULL,"
            " topic TEXT NOT NULL, excerpt TEXT NOT NULL)"
        )

    def add(self, rejections: Sequence[Rejection]) -> None:
        if not rejections:
            return
        with self._lock:
            self._db.execute("BEGIN")
            cursor = self._db.executemany(
                "INSERT INTO dead_letters (received_ms, reason, detail, topic, excerpt) VALUES (?, ?, ?, ?, ?)",
                [(r.received_ms, r.reason.value, r.detail, r.topic, r.excerpt) for r in rejections],
            )
            del cursor
            last = self._db.execute("SELECT MAX(id) FROM dead_letters").fetchone()[0]
            self._db.execute("DELETE FROM dead_letters WHERE id <= ?", (int(last) - self.max_rows,))
            self._db.execute("COMMIT")

    def latest(self, limit: int = 50, reason: str | None = None) -> list[DeadLetter]:
        query = "SELECT id, received_ms, reason, detail, topic, excerpt FROM dead_letters"
        args: tuple[object, ...] = ()
        if reason:
            query += " WHERE reason = ?"
            args = (reason,)
        query += " ORDER BY id DESC LIMIT ?"
        with self._lock:
            rows = self._db.execute(query, (*args, limit)).fetchall()
        return [DeadLetter(*row) for row in rows]

    def counts_by_reason(self, start_ms: int, end_ms: int, topic_prefix: str = "") -> RejectionCounts:
        """Messages rejected in [start_ms, end_ms), by reason, whose topic starts with `topic_prefix`
        (`louyu/<building>/` for one building). `complete` is False when rows of that window may
        have been dropped to keep the table bounded: the counts are then a lower bound."""
        where = "received_ms >= ? AND received_ms < ? AND substr(topic, 1, ?) = ?"
        args = (start_ms, end_ms, len(topic_prefix), topic_prefix)
        with self._lock:
            rows = self._db.execute(
                f"SELECT reason, COUNT(*) FROM dead_letters WHERE {where} GROUP BY reason",  # noqa: S608
                args,
            ).fetchall()
            oldest, newest_id = self._db.execute(
                "SELECT MIN(received_ms), MAX(id) FROM dead_letters"
            ).fetchone()
        # Rows are dropped oldest first, and only once more than max_rows were ever added: if the
        # oldest kept row came after the window opened, that window's beginning may be gone.
        dropped = newest_id is not None and int(newest_id) > self.max_rows
        complete = not (dropped and oldest is not None and int(oldest) > start_ms)
        return RejectionCounts({str(reason): int(n) for reason, n in rows}, complete)

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM dead_letters").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
