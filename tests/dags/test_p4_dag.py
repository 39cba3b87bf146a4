"""migration_p4_backfill under `airflow dags test` (subprocess), mode demo, on the seeded demo
database with phases 1 and 2 applied: plan, two mapped workers, zero-loss check, report."""

from __future__ import annotations

import psycopg

from activity_migration.config import load_config
from activity_migration.ledger import RunContext
from activity_migration.phases import p1_infrastructure, p2_dual_write
from dagrun import dags_test, dags_test_succeeded

DAG_ID = "migration_p4_backfill"


def test_p4_dag_runs_in_demo_mode_and_copies_everything(airflow_env, demo_db):
    cfg = load_config()
    ctx = RunContext(environment="staging", mode="demo", actor="pytest")
    p1_infrastructure.apply(demo_db, cfg, ctx)
    p2_dual_write.apply(demo_db, cfg, ctx)
    with psycopg.connect(demo_db) as conn:
        before = conn.execute(
            "SELECT count(*) FROM public.activity_logs s WHERE NOT EXISTS "
            "(SELECT 1 FROM public.events e WHERE e.legacy_activity_log_id = s.id)"
        ).fetchone()[0]
    assert before > 0
    run = dags_test(
        airflow_env, DAG_ID, {"initial_chunk_rows": 500, "max_parallel_chunks": 2}, staging_dsn=demo_db
    )
    log = run.stdout
    assert dags_test_succeeded(run), log[-4000:]
    assert "zero-loss check passed" in log and "quarantine by reason" in log
    with psycopg.connect(demo_db) as conn:
        missing = conn.execute("""
            SELECT count(*) FROM public.activity_logs s
             WHERE NOT EXISTS (SELECT 1 FROM public.events e WHERE e.legacy_activity_log_id = s.id)
               AND NOT EXISTS (SELECT 1 FROM activity_migration.quarantine q WHERE q.legacy_id = s.id::text)
            """).fetchone()[0]
        steps = dict(
            conn.execute(
                "SELECT step, status FROM activity_migration.phase_ledger "
                "WHERE phase = 'p4_backfill' ORDER BY id"
            ).fetchall()
        )
        chunks = conn.execute(
            "SELECT count(*) FILTER (WHERE status <> 'done'), count(*) "
            "FROM activity_migration.backfill_chunks"
        ).fetchone()
    assert missing == 0
    assert (
        steps.get("plan") == "succeeded"
        and steps.get("copy") == "succeeded"
        and steps.get("verify") == "succeeded"
    )
    assert chunks[0] == 0 and chunks[1] >= 2
