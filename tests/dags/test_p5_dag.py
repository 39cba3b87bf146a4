"""migration_p5_trigger_removal under `airflow dags test`: tier 1 in demo mode, workload running.

The sensors need application writes during their windows, so the demo workload generator
plays the (upgraded) application in a thread while the subprocess runs.
"""

from __future__ import annotations

import psycopg

from activity_migration import catalog, ledger, tiers
from activity_migration.config import load_config
from activity_migration.ledger import RunContext
from dagrun import dags_test, dags_test_succeeded
from workload_helper import Background

CFG = load_config()
DAG_ID = "migration_p5_trigger_removal"
ALERTS = {"AIRFLOW_VAR_MIGRATION_ALERT_EMAILS": "dba@localhost"}
CONF = {
    "tier": 1,
    "mode": "demo",
    "environment": "staging",
    "sensor_window_seconds": 6,
    "probe_writes": 30,
    "sensor_timeout_minutes": 3,
    "max_regression_pct": 50,
}


def test_tier_1_runs_end_to_end_in_demo_mode_with_the_app_writing(airflow_env, demo_db, tmp_path):
    from activity_migration.phases import p1_infrastructure, p2_dual_write, p4_backfill

    # Phase 5's preconditions: events infrastructure, dual write, history backfilled (parity passes).
    ctx = RunContext(environment="staging", mode="demo")
    p1_infrastructure.apply(demo_db, CFG, ctx)
    p2_dual_write.apply(demo_db, CFG, ctx)
    p4_backfill.apply(demo_db, CFG, ctx)
    bg = Background(demo_db, publish="auto", rate=60, connections=3, seconds=500)
    try:
        out = dags_test(airflow_env, DAG_ID, CONF, staging_dsn=demo_db, extra_env=ALERTS)
    finally:
        report = bg.stop()
    (tmp_path / "dags_test.log").write_text(out.stdout)
    log = f"full log: {tmp_path / 'dags_test.log'}\n" + out.stdout[-8000:]
    assert dags_test_succeeded(out), log
    assert report.failed == 0, report.summary()

    with psycopg.connect(demo_db) as conn:
        state = tiers.tier_states(conn, CFG)[1]
        remaining = {t.table for t in catalog.logging_triggers(conn, CFG)}
        drop = ledger.last_step(conn, "p5_trigger_removal", "tier_1_drop", cfg=CFG)
        approval = ledger.last_step(conn, "p5_trigger_removal", "tier_1_drop_approval", cfg=CFG)
        flow = conn.execute(
            "SELECT count(*) FROM activity_migration.perf_samples WHERE purpose = 'event_flow' AND tier = 1"
        ).fetchone()[0]
    assert state["status"] == "verified", log
    assert "improvement_pct" in state["improvement"] and state["improvement"]["event_ratio"] >= 0.95
    assert not remaining & set(CFG.tier(1).table_names)
    assert len(remaining) == 15  # tiers 2..5 untouched
    assert drop["status"] == "succeeded"
    assert approval["status"] == "skipped" and approval["mode"] == "demo"
    assert approval["details"]["subject"].startswith("Drop trigger tier 1 in staging")  # rendered, per tier
    assert flow >= 1

    # A second run of the same tier is a green no-op (gate short-circuits everything after it).
    again = dags_test(airflow_env, DAG_ID, CONF, staging_dsn=demo_db, extra_env=ALERTS)
    assert dags_test_succeeded(again), again.stdout[-6000:]
    with psycopg.connect(demo_db) as conn:
        assert tiers.tier_states(conn, CFG)[1]["status"] == "verified"
        gate = ledger.last_step(conn, "p5_trigger_removal", "tier_1_gate", cfg=CFG)
    assert gate["details"]["proceed"] is False
