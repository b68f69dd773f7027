"""A throwaway PostgreSQL cluster on a free loopback port (Debian's `postgresql` package).

`initdb` and `postgres` refuse to run as root. When the tests run as root (CI does), the cluster
runs as the `postgres` account created by the Debian package, through `setpriv`: it execs the
server in place, so the process we hold is the postmaster itself and SIGTERM/SIGKILL reach it
(`runuser` would fork and sit in between). The data directory then lives in a directory of its
own under the system temp dir, owned by that account, because pytest's `tmp_path` is readable by
root only.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from louyu.testing.services import Service, ServiceError, free_port, require_binary


def postgres_bindir() -> Path:
    """The newest `/usr/lib/postgresql/<major>/bin` that holds a server."""
    candidates = sorted(
        (Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin") if Path(p, "postgres").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if candidates:
        return candidates[-1]
    found = shutil.which("postgres")
    if found:
        return Path(found).parent
    raise ServiceError("PostgreSQL is not installed (Debian package postgresql: run `make sysdeps`)")


class Postgres(Service):
    """A PostgreSQL server with one database and one password-protected owner account.

    `.url` is a SQLAlchemy/psycopg URL (`postgresql://louyu:<password>@127.0.0.1:<port>/louyu`),
    the form `LOUYU_DATABASE_URL` takes. `stop()` is a fast shutdown (SIGTERM), `kill()` a crash
    of the postmaster and its backends (SIGKILL to the process group); `start()` again recovers
    from the WAL on the same data and port.
    """

    name = "postgres"

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        database: str = "louyu",
        user: str = "louyu",
        durable: bool = False,
        settings: dict[str, str] | None = None,
    ) -> None:
        super().__init__(workdir)
        self.port = port or free_port()
        self.database = database
        self.user = user
        # Generated per cluster and never written to the repository or a log.
        self.password = secrets.token_urlsafe(18)
        self.bindir = postgres_bindir()
        self.binary = require_binary("postgres", str(self.bindir / "postgres"))
        self.run_as = self._pick_account()
        self.datadir = self._make_datadir()
        # Tests need crash safety against a killed process, not against power loss: a commit's WAL
        # is still written to the page cache before the commit returns (synchronous_commit stays
        # on, so a SIGKILL loses nothing committed), only the fsync is skipped unless asked for.
        self.settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": "''",
            "max_connections": "50",
            "shared_buffers": "32MB",
            "log_min_messages": "warning",
            "logging_collector": "off",
        }
        if not durable:
            self.settings.update({"fsync": "off", "full_page_writes": "off"})
        self.settings.update(settings or {})

    @staticmethod
    def _pick_account() -> pwd.struct_passwd | None:
        if os.geteuid() != 0:
            return None
        for name in ("postgres", "nobody"):
            with contextlib.suppress(KeyError):
                return pwd.getpwnam(name)
        raise ServiceError("running as root and no `postgres` account to run the server as")

    def _make_datadir(self) -> Path:
        if self.run_as is None:
            return self.workdir / "data"
        base = Path(tempfile.mkdtemp(prefix="louyu-pg-"))
        os.chown(base, self.run_as.pw_uid, self.run_as.pw_gid)
        (self.workdir / "datadir").write_text(f"{base}\n")
        return base / "data"

    def _as_account(self, argv: list[str]) -> list[str]:
        if self.run_as is None:
            return argv
        setpriv = require_binary("setpriv", "/usr/bin/setpriv")
        return [
            setpriv,
            f"--reuid={self.run_as.pw_uid}",
            f"--regid={self.run_as.pw_gid}",
            "--init-groups",
            "--",
            *argv,
        ]

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}"

    @property
    def conninfo(self) -> str:
        """The same target as a libpq keyword string (for psycopg.connect)."""
        return (
            f"host=127.0.0.1 port={self.port} dbname={self.database} user={self.user} "
            f"password={self.password} connect_timeout=2"
        )

    def _initdb(self) -> None:
        pwfile = self.datadir.parent / ".pw"
        pwfile.write_text(self.password + "\n")
        if self.run_as is not None:
            os.chown(pwfile, self.run_as.pw_uid, self.run_as.pw_gid)
        pwfile.chmod(0o600)
        try:
            result = subprocess.run(
                self._as_account(
                    [
                        str(self.bindir / "initdb"),
                        "-D",
                        str(self.datadir),
                        "-U",
                        self.user,
                        f"--pwfile={pwfile}",
                        "--auth=scram-sha-256",
                        "--encoding=UTF8",
                        "--locale=C",
                        "--no-sync",
                    ]
                ),
                capture_output=True,
                cwd="/",
                timeout=120,
                check=False,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise ServiceError(f"initdb failed:\n{result.stdout.decode()}{result.stderr.decode()}")

    def command(self) -> list[str]:
        argv = [self.binary, "-D", str(self.datadir)]
        for key, value in self.settings.items():
            argv += ["-c", f"{key}={value.strip(chr(39))}"]
        return self._as_account(argv)

    def start(self, timeout: float = 60.0) -> None:
        if not (self.datadir / "PG_VERSION").exists():
            self._initdb()
            super().start(timeout)
            self._create_database()
        else:
            super().start(timeout)

    def ready(self) -> bool:
        import psycopg

        try:
            conn = psycopg.connect(
                host="127.0.0.1",
                port=self.port,
                dbname="postgres",
                user=self.user,
                password=self.password,
                connect_timeout=1,
            )
        except psycopg.OperationalError:
            return False
        conn.close()
        return True

    def _create_database(self) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            dbname="postgres",
            user=self.user,
            password=self.password,
            connect_timeout=5,
            autocommit=True,
        ) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database)))

    def kill(self) -> None:
        """SIGKILL to the postmaster and every backend, as a crash of the host process would."""
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def remove(self) -> None:
        """Stop if running and delete the data directory (the cluster cannot be started again)."""
        self.kill()
        if self.run_as is not None:
            shutil.rmtree(self.datadir.parent, ignore_errors=True)
        else:
            shutil.rmtree(self.datadir, ignore_errors=True)
