"""The latency controller on a server that loads pg_stat_statements, as Supabase does: it reads the
application's own write statements, and the commit's wait (the probe) that those leave out.

The server: an embedded Postgres started for this module with ``shared_preload_libraries =
pg_stat_statements`` (the 5432 server of the test machines does not load it). The application:
a thread updating a counter table ~200 times a second. Its latency is raised for real, by
another session holding a lock its statements (or the probe's commits) must wait for.
"""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from activity_migration import metrics
from activity_migration.backfill import controller
from activity_migration.backfill.throttle import Throttle, ThrottleSettings
from activity_migration.config import load_config
from activity_migration.embedded import EmbeddedPostgres
from testdb import create_database, free_port

from .conftest import make_backfill_db
from .test_controller import LockLoad

CFG = load_config()
ROOT = Path(__file__).resolve().parents[2]
APP_TABLE = "public.app_counter"


@pytest.fixture(scope="module")
def statements_db() -> Iterator[str]:
    """A database with phase 1's tables and the app's counter table, on a server loading
    pg_stat_statements (under the project: the server may run as another user)."""
    root = ROOT / ".local" / f"pg-statements-{uuid.uuid4().hex[:8]}"
    server = EmbeddedPostgres(port=free_port(), root=root)
    try:
        _, dsn = create_database(server.start())
        assert metrics.enable_statement_stats(dsn), "the embedded server did not preload pg_stat_statements"
        make_backfill_db(dsn, 300, "uuid")
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"CREATE TABLE {APP_TABLE} (id int PRIMARY KEY, n bigint NOT NULL DEFAULT 0)")
            conn.execute(f"INSERT INTO {APP_TABLE} (id) VALUES (1)")
        yield dsn
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


class AppWrites:
    """The application: autocommit UPDATEs of the counter, every ~5 ms, until stopped."""

    def __init__(self, dsn: str) -> None:
        self.conn = psycopg.connect(dsn, autocommit=True, application_name="the-app")
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            self.conn.execute(f"UPDATE {APP_TABLE} SET n = n + 1 WHERE id = 1")
            time.sleep(0.005)

    def __enter__(self) -> "AppWrites":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)
        self.conn.close()


class AppLockLoad(LockLoad):
    """Holds the app's row (not the probe's table) in bursts: the app's statements wait, the probe
    does not. A row lock: its wait is part of the statement's execution, which pg_stat_statements
    times (a table lock is taken while the statement is parsed, before the timed part)."""

    def _run(self) -> None:
        while not self.stop.is_set():
            with self.conn.transaction():
                self.conn.execute(f"SELECT 1 FROM {APP_TABLE} WHERE id = 1 FOR UPDATE")
                self.conn.execute("SELECT pg_sleep(%s)", (self.hold_s,))
            time.sleep(self.gap_s)


def _throttle(dsn: str) -> Throttle:
    # an objective above a shared machine's own noise; the loads below are far beyond it
    return Throttle(
        CFG, ThrottleSettings(yield_ratio=0.5, pause_seconds=0.1, max_app_p95_ratio=3.0), "pgss-test", dsn=dsn
    )


def _paused_under(throttle: Throttle, conn: psycopg.Connection, load: LockLoad) -> list[str]:
    """Decisions taken while ``load`` runs for 1.5 s; the throttle pauses before answering."""
    actions = []
    with load:
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            verdict = throttle.wait_for_go(conn)
            d = verdict.decision
            actions.append(f"{'pause' if verdict.pauses else d.action} {d.p95_ms} {d.ratio}")  # type: ignore[union-attr]
            time.sleep(0.05)
    return actions


def test_baseline_reads_the_apps_statements_and_keeps_the_commits_idle_wait(statements_db):
    with AppWrites(statements_db), psycopg.connect(statements_db, autocommit=True) as conn:
        time.sleep(0.3)
        baseline = controller.measure_baseline(conn, CFG)
    assert baseline["source"] == "pg_stat_statements"
    assert baseline["samples"] >= controller.MIN_WINDOW_CALLS  # the app's UPDATEs in the window
    assert baseline["p95_ms"] > 0 and baseline["commit_p95_ms"] > 0


@pytest.mark.parametrize(
    "load",
    [AppLockLoad, LockLoad],
    ids=["the-apps-statements-wait", "the-commits-wait"],
)
def test_controller_pauses_on_what_the_app_waits_for_and_speeds_up_after(statements_db, load):
    """Both halves of the estimate count: the app's statements waiting (pg_stat_statements sees it)
    and the commits waiting (the probe sees it; pg_stat_statements does not time the commit)."""
    with AppWrites(statements_db), psycopg.connect(statements_db, autocommit=True) as conn:
        time.sleep(0.3)
        controller.record_baseline(conn, CFG, controller.measure_baseline(conn, CFG))
        throttle = _throttle(statements_db)
        try:
            quiet = []
            for _ in range(6):  # spaced: each window holds some of the app's writes
                quiet.append(throttle.wait_for_go(conn).decision)
                time.sleep(0.05)
            loaded = _paused_under(throttle, conn, load(statements_db))
            time.sleep(0.5)
            after = [throttle.wait_for_go(conn).decision for _ in range(10)]
        finally:
            throttle.close()
    assert throttle.estimator is not None and throttle.estimator.source == "pg_stat_statements"
    assert quiet[0] is not None and quiet[0].action == "hold"  # no window yet: the first read starts it
    assert all(d is not None and d.ratio is not None for d in quiet[1:])
    assert any(a.startswith("pause") for a in loaded), f"no pause under the load: {loaded}"
    assert sum(d is not None and d.action == "faster" for d in after) >= 4, after
