"""Helpers shared by the phase 3 / phase 6 / rollback tests: drive phases forward, run the workload."""
from __future__ import annotations

import threading

import psycopg
import pytest

from activity_migration import tiers
from activity_migration.config import load_config
from activity_migration.ledger import RunContext

CFG = load_config()
CTX = RunContext(environment="staging", mode="demo", dag_run_id="pytest-p3-p6-rollback")


def p1(dsn: str) -> None:
    from activity_migration.phases import p1_infrastructure
    p1_infrastructure.apply(dsn, CFG, CTX)


def p2(dsn: str) -> None:
    from activity_migration.phases import p2_dual_write
    p2_dual_write.apply(dsn, CFG, CTX)


def p4(dsn: str) -> None:
    from activity_migration.phases import p4_backfill
    p4_backfill.apply(dsn, CFG, CTX)


def p5_all(dsn: str, *, verified: bool = True) -> None:
    """Back up and drop every tier (what the phase-5 DAG does, sensors aside); mark them verified."""
    for t in CFG.tiers:
        with psycopg.connect(dsn) as conn:
            tiers.backup_tier(conn, CFG, tiers.plan_tier(conn, CFG, t.tier))
        tiers.drop_tier(dsn, CFG, t.tier)
        if verified:
            with psycopg.connect(dsn) as conn:
                tiers.set_tier_state(conn, CFG, t.tier, "verified", improvement={"test": True})
                conn.commit()


def record_validation(dsn: str, suite: str, success: bool, age_hours: float = 0.0,
                      environment: str = "staging") -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute(f"INSERT INTO {CFG.state_schema}.validation_results (suite, scope, success, environment, run_at) "
                     "VALUES (%s, 'full', %s, %s, clock_timestamp() - make_interval(secs => %s))",
                     (suite, success, environment, age_hours * 3600))


class Background:
    """The demo workload generator in a thread until ``stop()``."""

    def __init__(self, dsn: str, *, publish: str = "auto", rate: float = 60, connections: int = 3) -> None:
        wl = pytest.importorskip("activity_migration.demo.workload")
        self.stop_event = threading.Event()
        self.report = None
        self.error: BaseException | None = None

        def run() -> None:
            try:
                self.report = wl.run_workload(dsn, seconds=900, rate=rate, connections=connections, publish=publish,
                                              stop_event=self.stop_event)
            except BaseException as exc:
                self.error = exc

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def stop(self):
        self.stop_event.set()
        self.thread.join(timeout=120)
        if self.error:
            raise self.error
        return self.report
