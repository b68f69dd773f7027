"""The PostgreSQL test service: it starts, takes connections, survives stop and crash."""

from __future__ import annotations

import psycopg
import pytest
import sqlalchemy as sa

from louyu.testing.postgres import Postgres

pytestmark = pytest.mark.integration


def test_connects_and_queries(postgres: Postgres) -> None:
    assert postgres.url.startswith(f"postgresql://louyu:{postgres.password}@127.0.0.1:{postgres.port}/")
    with psycopg.connect(postgres.conninfo) as conn:
        row = conn.execute("SELECT current_database(), current_user, version()").fetchone()
    assert row is not None
    assert row[0] == "louyu"
    assert row[1] == "louyu"
    assert row[2].startswith("PostgreSQL ")


def test_wrong_password_is_refused(postgres: Postgres) -> None:
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(host="127.0.0.1", port=postgres.port, dbname="louyu", user="louyu", password="wrong")


def test_sqlalchemy_url_works(postgres: Postgres) -> None:
    # LOUYU_DATABASE_URL is handed to SQLAlchemy: the psycopg 3 dialect must be named.
    url = postgres.url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE t (id serial PRIMARY KEY, v text)"))
            conn.execute(sa.text("INSERT INTO t (v) VALUES ('a'), ('b')"))
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM t")).scalar_one() == 2
    finally:
        engine.dispose()


def test_data_survives_stop_and_kill(postgres: Postgres) -> None:
    with psycopg.connect(postgres.conninfo, autocommit=True) as conn:
        conn.execute("CREATE TABLE alerts (id int PRIMARY KEY)")
        conn.execute("INSERT INTO alerts VALUES (1)")
    postgres.stop()
    assert not postgres.running
    postgres.start()
    with psycopg.connect(postgres.conninfo, autocommit=True) as conn:
        conn.execute("INSERT INTO alerts VALUES (2)")
    postgres.kill()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(postgres.conninfo)
    postgres.start()  # crash recovery from the WAL, same port
    with psycopg.connect(postgres.conninfo) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM alerts ORDER BY id").fetchall()]
    assert ids == [1, 2]
