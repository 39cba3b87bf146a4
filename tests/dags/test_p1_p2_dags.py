"""The phase 1 and phase 2 DAGs run end to end under ``airflow dags test`` in demo mode."""

from __future__ import annotations

import psycopg

from dagrun import dags_test, dags_test_succeeded


def test_p1_then_p2_dags_succeed_and_ledger_shows_demo_skipped_approval(airflow_env, demo_db):
    for dag_id in ("migration_p1_infrastructure", "migration_p2_dual_write"):
        proc = dags_test(airflow_env, dag_id, staging_dsn=demo_db)
        assert dags_test_succeeded(proc), proc.stdout[-4000:]
    with psycopg.connect(demo_db) as conn:
        rows = conn.execute(
            "SELECT phase, step, status, mode, environment, actor FROM activity_migration.phase_ledger "
            "ORDER BY id"
        ).fetchall()
        dual = conn.execute(
            "SELECT value FROM activity_migration.settings WHERE key = 'dual_write'"
        ).fetchone()[0]
    steps = [(r[0], r[1], r[2]) for r in rows]
    assert ("p1_infrastructure", "verify", "succeeded") in steps
    assert ("p2_dual_write", "switch", "succeeded") in steps and (
        "p2_dual_write",
        "verify",
        "succeeded",
    ) in steps
    approval = [r for r in rows if r[1] == "switch_approval"]
    assert approval and approval[0][2] == "skipped" and approval[0][3] == "demo" and "demo" in approval[0][5]
    assert all(r[4] == "staging" for r in rows)
    assert dual["enabled"] is True
