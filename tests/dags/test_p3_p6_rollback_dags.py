"""The phase 3, phase 6 and rollback DAGs: wiring of their gates, and real runs under
``airflow dags test`` in demo mode against a seeded database (normal mode would wait for a
person: its routing is checked directly instead)."""

from __future__ import annotations

import psycopg

from _forward import p1, p2, p4, p5_all, record_validation
from dagrun import ROOT, conn_uri, dags_test, dags_test_succeeded


def _dag(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags" / f"{dag_id}.py"))
    assert not bag.import_errors, bag.import_errors
    return bag.dags[dag_id]


def _upstream_closure(dag, task_id: str) -> set[str]:
    seen, todo = set(), [task_id]
    while todo:
        for up in dag.get_task(todo.pop()).upstream_task_ids:
            if up not in seen:
                seen.add(up)
                todo.append(up)
    return seen


def test_cleanup_steps_wait_for_every_gate_and_the_approval_in_normal_mode(demo_db, monkeypatch):
    # demo mode reads the demo seed's mark of the run's database (run_rules.require_demo_allowed)
    monkeypatch.setenv("AIRFLOW_CONN_ACTIVITY_DB_STAGING", conn_uri(demo_db))
    dag = _dag("migration_p6_cleanup")
    ups = _upstream_closure(dag, "archive")
    assert {
        "tiers_gate",
        "validation_gate",
        "quarantine_gate",
        "cleanup_rehearsal_gate",
        "evidence",
        "cleanup_approval",
        "backup",
    } <= ups
    assert dag.get_task("backup").upstream_task_ids == {"cleanup_approval", "cleanup_demo_approval"}
    route = dag.get_task("cleanup_route")
    assert route.python_callable(params={"mode": "normal", "environment": "production"}) == "cleanup_approval"
    assert route.python_callable(params={"mode": "demo", "environment": "staging"}) == "cleanup_demo_approval"
    assert dag.get_task("delete_archive").upstream_task_ids == {
        "delete_archive_approval",
        "delete_archive_demo_approval",
    }
    assert (
        dag.get_task("choose_action").python_callable(params={"delete_archive": True})
        == "delete_archive_check"
    )
    assert dag.params["validation_max_age_hours"] == 24 and dag.params["delete_archive"] is False


def test_rollback_dag_undoes_newest_first_after_its_approval():
    dag = _dag("migration_rollback")
    order = [
        "undo_p6_cleanup",
        "undo_p5_trigger_removal",
        "undo_p4_backfill",
        "undo_p3_read_path",
        "undo_p2_dual_write",
        "undo_p1_infrastructure",
    ]
    assert dag.get_task(order[0]).upstream_task_ids >= {"rollback_approval", "rollback_demo_approval"}
    for a, b in zip(order, order[1:]):
        assert a in dag.get_task(b).upstream_task_ids
    assert dag.get_task("rollback_route").python_callable(params={"mode": "normal"}) == "rollback_approval"
    assert dag.params.get_param("to_phase").schema["enum"] == [f"before_p{i}" for i in range(1, 7)]


def _ledger(dsn: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT phase, step, status FROM activity_migration.phase_ledger ORDER BY id"
        ).fetchall()


def test_p3_p6_and_rollback_dags_run_in_demo_mode(airflow_env, demo_db):
    p1(demo_db)
    p2(demo_db)
    p4(demo_db)
    run = dags_test(airflow_env, "migration_p3_read_path", staging_dsn=demo_db)
    assert dags_test_succeeded(run), run.stdout[-4000:]
    with psycopg.connect(demo_db) as conn:
        assert conn.execute("SELECT public.activity_read_source()").fetchone()[0] == "events"

    p5_all(demo_db)
    record_validation(demo_db, "parity", True, age_hours=30)  # stale: cleanup must refuse
    record_validation(demo_db, "events_integrity", True)
    out = dags_test(airflow_env, "migration_p6_cleanup", staging_dsn=demo_db).stdout
    assert "validation gate closed" in out and "30.0 h old" in out, out[-4000:]
    assert ("p6_cleanup", "validation_gate", "failed") in _ledger(demo_db)
    with psycopg.connect(demo_db) as conn:
        assert (
            conn.execute(
                "SELECT relkind::text FROM pg_class WHERE oid = 'public.activity_logs'::regclass"
            ).fetchone()[0]
            == "r"
        )

    record_validation(demo_db, "parity", True)
    run = dags_test(airflow_env, "migration_p6_cleanup", staging_dsn=demo_db)
    assert dags_test_succeeded(run), run.stdout[-4000:]
    steps = _ledger(demo_db)
    assert ("p6_cleanup", "cleanup_approval", "skipped") in steps and (
        "p6_cleanup",
        "archive",
        "succeeded",
    ) in steps

    run = dags_test(airflow_env, "migration_rollback", {"to_phase": "before_p3"}, staging_dsn=demo_db)
    assert dags_test_succeeded(run), run.stdout[-4000:]
    steps = _ledger(demo_db)
    assert ("rollback", "rollback_approval", "skipped") in steps
    for phase in ("p6_cleanup", "p5_trigger_removal", "p4_backfill", "p3_read_path"):
        assert (phase, "rollback", "succeeded") in steps, phase
    assert ("p2_dual_write", "rollback", "succeeded") not in steps
    with psycopg.connect(demo_db) as conn:
        assert (
            conn.execute(
                "SELECT relkind::text FROM pg_class WHERE oid = 'public.activity_logs'::regclass"
            ).fetchone()[0]
            == "r"
        )
        assert conn.execute("SELECT to_regprocedure('public.activity_read_source()')").fetchone()[0] is None
        assert (
            conn.execute(
                "SELECT value #>> '{}' FROM activity_migration.settings WHERE key = 'read_source'"
            ).fetchone()[0]
            == "activity_logs"
        )
