"""Helpers shared by the phase 3 / phase 6 / rollback tests: drive phases forward, record validations.

The workload thread they run beside the phases is ``workload_helper.Background``."""

from __future__ import annotations

import psycopg

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


def record_validation(
    dsn: str, suite: str, success: bool, age_hours: float = 0.0, environment: str = "staging"
) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute(
            f"INSERT INTO {CFG.state_schema}.validation_results (suite, scope, success, environment, run_at) "
            "VALUES (%s, 'full', %s, %s, clock_timestamp() - make_interval(secs => %s))",
            (suite, success, environment, age_hours * 3600),
        )
