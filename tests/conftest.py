"""Shared fixtures: a real Postgres, throwaway databases, a seeded demo database, an SMTP sink.

Postgres: the server on 127.0.0.1:5432 when one answers (CI machines start one), else
``TEST_PG_DSN``, else a private embedded server started for the session. Nothing here
mocks the database.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import psycopg
import pytest

# Plain modules beside this file (tests/ is on sys.path): tests import them directly, never
# `from conftest import ...` (tests/e2e/conftest.py takes the module name `conftest`).
from dagrun import AIRFLOW, ROOT, conn_uri, dags_test, dags_test_succeeded  # noqa: F401 - re-exported
from testdb import create_database, drop_database  # noqa: F401 - re-exported

# In-process Airflow (DagBag in the integrity test) gets a private, migrated SQLite home;
# set before anything imports airflow.
PYTEST_AIRFLOW_HOME = ROOT / ".local" / "airflow-pytest"
os.environ["AIRFLOW_HOME"] = str(PYTEST_AIRFLOW_HOME)
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{PYTEST_AIRFLOW_HOME / 'airflow.db'}"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(ROOT / "plugins")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")

from activity_migration.embedded import EmbeddedPostgres, port_is_open  # noqa: E402 - after the environment above

TEST_DEMO_ROWS = int(os.environ.get("TEST_DEMO_ROWS", "3000"))


def _migrate_airflow_home(home: Path, env: dict[str, str]) -> None:
    if not (home / "airflow.db").exists():
        home.mkdir(parents=True, exist_ok=True)
        subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True, timeout=600)


def pytest_sessionstart(session):
    """Airflow's metadata DB for in-process use (DagBag touches it in 3.3)."""
    _migrate_airflow_home(PYTEST_AIRFLOW_HOME, dict(os.environ))


@pytest.fixture(scope="session")
def airflow_env(tmp_path_factory) -> dict[str, str]:
    """Environment for ``airflow dags test`` subprocesses: a migrated SQLite home (once per session)."""
    home = tmp_path_factory.mktemp("airflow_home")
    env = dict(
        os.environ,
        AIRFLOW_HOME=str(home),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
    )
    _migrate_airflow_home(home, env)
    return env


def _admin_dsn() -> str:
    if os.environ.get("TEST_PG_DSN"):
        return os.environ["TEST_PG_DSN"]
    if port_is_open("127.0.0.1", 5432):
        return "postgresql://postgres@127.0.0.1:5432/postgres"
    server = EmbeddedPostgres(port=55433, root=ROOT / ".local" / "pg-test")
    return server.start()


@pytest.fixture(scope="session")
def pg_admin_dsn() -> str:
    dsn = _admin_dsn()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT 1")
    return dsn


@pytest.fixture
def fresh_db(pg_admin_dsn):
    """DSN of a new, empty database, dropped after the test."""
    name, dsn = create_database(pg_admin_dsn)
    yield dsn
    drop_database(pg_admin_dsn, name)


@pytest.fixture(scope="session")
def demo_template(pg_admin_dsn):
    """Name of a database seeded once per session with the demo app (TEST_DEMO_ROWS history rows).

    Tests copy it (``CREATE DATABASE ... TEMPLATE``), which is much faster than seeding again.
    """
    from activity_migration.demo.seed import seed

    name, dsn = create_database(pg_admin_dsn, prefix="amt_tpl")
    seed(dsn, rows=TEST_DEMO_ROWS)
    yield name
    drop_database(pg_admin_dsn, name)


@pytest.fixture
def demo_db(pg_admin_dsn, demo_template):
    """DSN of a private copy of the seeded demo database."""
    name, dsn = create_database(pg_admin_dsn, template=demo_template)
    yield dsn
    drop_database(pg_admin_dsn, name)


@pytest.fixture
def smtp_sink():
    """A real SMTP server on loopback (aiosmtpd); yields (host, port, messages)."""
    import socket
    from email import message_from_bytes
    from email.policy import default as default_policy

    from aiosmtpd.controller import Controller

    messages: list = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd API
            msg = message_from_bytes(envelope.content, policy=default_policy)
            messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos), "message": msg})
            return "250 OK"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield "127.0.0.1", port, messages
    finally:
        controller.stop()
