"""A private PostgreSQL under the project folder, for the demo and for machines without one.

Binaries: the system's (``/usr/lib/postgresql/<v>/bin``, or ``pg_config --bindir``) when
present, otherwise the server shipped by the ``pgserver`` wheel. The cluster lives in
``.local/pg/data``, listens on loopback only, trusts local connections (it is a throwaway
demo server) and is stopped with ``activity-migration embedded stop``.

PostgreSQL refuses to run as root; when we are root the server runs as the ``postgres``
system user (or a ``pgembedded`` user we create), and owns only its data folder.
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .db import PROJECT_ROOT
from .errors import MigrationError

log = logging.getLogger(__name__)

DEFAULT_ROOT = Path(os.environ.get("ACTIVITY_MIGRATION_EMBEDDED_DIR", PROJECT_ROOT / ".local" / "pg"))
SUPERUSER = "postgres"


def _find_bindir() -> Path:
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    for bindir in reversed(candidates):
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            return bindir
    pg_config = shutil.which("pg_config")
    if pg_config:
        bindir = Path(subprocess.run([pg_config, "--bindir"], capture_output=True, text=True).stdout.strip())
        if (bindir / "initdb").exists():
            return bindir
    try:
        from pgserver._commands import POSTGRES_BIN_PATH

        return Path(POSTGRES_BIN_PATH)
    except Exception as exc:  # pragma: no cover - depends on the machine
        raise MigrationError(
            "no PostgreSQL server binaries found (install postgresql, or pip install pgserver)"
        ) from exc


def _run_as_user() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "pgembedded"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    subprocess.run(["useradd", "--system", "--no-create-home", "pgembedded"], check=True, capture_output=True)
    return "pgembedded"


def port_is_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass
class EmbeddedPostgres:
    port: int = 55432
    root: Path = DEFAULT_ROOT
    host: str = "127.0.0.1"

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    @property
    def logfile(self) -> Path:
        return self.root / "server.log"

    def dsn(self, dbname: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{dbname}"

    def _cmd(self, args: list[str]) -> subprocess.CompletedProcess:
        user = _run_as_user()
        full = (["runuser", "-u", user, "--"] if user else []) + args
        return subprocess.run(full, capture_output=True, text=True, cwd="/tmp")

    def _chown(self, path: Path) -> None:
        user = _run_as_user()
        if user:
            entry = pwd.getpwnam(user)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def is_running(self) -> bool:
        if not (self.datadir / "postmaster.pid").exists():
            return False
        res = self._cmd([str(_find_bindir() / "pg_ctl"), "-D", str(self.datadir), "status"])
        return res.returncode == 0

    def init(self) -> None:
        if (self.datadir / "PG_VERSION").exists():
            return
        bindir = _find_bindir()
        self.root.mkdir(parents=True, exist_ok=True)
        if _run_as_user():
            # The server runs as another user: every folder above its data must be traversable.
            blocked = [p for p in self.root.resolve().parents if not os.stat(p).st_mode & 0o001]
            if blocked:
                raise MigrationError(
                    f"the embedded Postgres runs as user {_run_as_user()!r} and cannot reach {self.root}: "
                    f"{blocked[0]} is not traversable (chmod o+x it, or set ACTIVITY_MIGRATION_EMBEDDED_DIR)"
                )
        self.datadir.mkdir(parents=True, exist_ok=True)
        self._chown(self.root)
        self._chown(self.datadir)
        os.chmod(self.datadir, 0o700)
        res = self._cmd(
            [
                str(bindir / "initdb"),
                "-D",
                str(self.datadir),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
            ]
        )
        if res.returncode != 0:
            raise MigrationError(
                f"initdb failed for the embedded Postgres in {self.datadir}: {res.stderr.strip()}"
            )
        preload = (
            "pg_stat_statements"
            if (bindir.parent / "lib" / "pg_stat_statements.so").exists()
            or Path(f"/usr/lib/postgresql/{bindir.parent.name}/lib/pg_stat_statements.so").exists()
            else ""
        )
        with open(self.datadir / "postgresql.conf", "a") as conf:
            conf.write(
                "\n# activity-migration embedded server\n"
                "listen_addresses = '127.0.0.1'\n"
                "max_connections = 200\n"
                "shared_buffers = 256MB\n"
                "wal_level = logical\n"
                "track_io_timing = on\n" + (f"shared_preload_libraries = '{preload}'\n" if preload else "")
            )

    def start(self) -> str:
        """Start (initialising on first use) and return the admin DSN. Idempotent."""
        self.init()
        if self.is_running():
            return self.dsn()
        if port_is_open(self.host, self.port):
            raise MigrationError(
                f"port {self.port} on {self.host} is taken by another server; the embedded Postgres needs it "
                f"(change conn_port of activity_db in airflow_settings.yaml, or set AIRFLOW_CONN_ACTIVITY_DB)"
            )
        sockdir = self.root / "sock"
        sockdir.mkdir(exist_ok=True)
        self._chown(sockdir)
        self.logfile.touch(exist_ok=True)
        self._chown(self.logfile)
        res = self._cmd(
            [
                str(_find_bindir() / "pg_ctl"),
                "-D",
                str(self.datadir),
                "-l",
                str(self.logfile),
                "-w",
                "-t",
                "60",
                "-o",
                f"-p {self.port} -k {sockdir}",
                "start",
            ]
        )
        if res.returncode != 0:
            tail = self.logfile.read_text().splitlines()[-5:] if self.logfile.exists() else []
            raise MigrationError(
                f"embedded Postgres failed to start: {res.stderr.strip()} {' | '.join(tail)}"
            )
        for _ in range(100):
            if port_is_open(self.host, self.port):
                break
            time.sleep(0.1)
        log.info("embedded Postgres running on %s:%s (data in %s)", self.host, self.port, self.datadir)
        return self.dsn()

    def stop(self) -> bool:
        if not self.is_running():
            return False
        res = self._cmd([str(_find_bindir() / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop"])
        if res.returncode != 0:
            raise MigrationError(f"embedded Postgres did not stop: {res.stderr.strip()}")
        return True

    def ensure_database(self, dbname: str) -> str:
        """Create ``dbname`` if missing; return its DSN."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        return self.dsn(dbname)
