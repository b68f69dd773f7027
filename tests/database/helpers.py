"""Database helpers shared by the test areas."""

from __future__ import annotations

from sqlalchemy import Engine, MetaData


def drop_everything(engine: Engine) -> None:
    """An empty database again: every table found in it (the revision table included), so the
    next `upgrade` starts from nothing, as on a server that many tests share."""
    found = MetaData()
    found.reflect(engine)
    found.drop_all(engine)
