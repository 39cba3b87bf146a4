"""migration_p4_backfill under `airflow dags test` (subprocess), mode demo, on the seeded demo
database with phases 1 and 2 applied: plan, two mapped workers, zero-loss check, report."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import psycopg

from activity_migration.config import load_config
from activity_migration.ledger import RunContext
from activity_migration.phases import p1_infrastructure, p2_dual_write

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW = str(ROOT / ".venv" / "bin" / "airflow") if (ROOT / ".venv" / "bin" / "airflow").exists() else "airflow"
DAG_ID = "migration_p4_backfill"


def _uri(dsn: str) -> str:
    p = psycopg.conninfo.conninfo_to_dict(dsn)
    return f"postgresql://{p.get('user', 'postgres')}@{p.get('host', '127.0.0.1')}:{p.get('port', 5432)}/{p['dbname']}"


def test_p4_dag_runs_in_demo_mode_and_copies_everything(demo_db, tmp_path):
    cfg = load_config()
    ctx = RunContext(environment="staging", mode="demo", actor="pytest")
    p1_infrastructure.apply(demo_db, cfg, ctx)
    p2_dual_write.apply(demo_db, cfg, ctx)
    with psycopg.connect(demo_db) as conn:
        before = conn.execute("SELECT count(*) FROM public.activity_logs s WHERE NOT EXISTS "
                              "(SELECT 1 FROM public.events e WHERE e.legacy_activity_log_id = s.id)").fetchone()[0]
    assert before > 0
    env = dict(os.environ)
    env.update({"AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'airflow.db'}",
                "AIRFLOW__CORE__UNIT_TEST_MODE": "False", "AIRFLOW_CONN_ACTIVITY_DB_STAGING": _uri(demo_db)})
    out = subprocess.run([AIRFLOW, "db", "migrate"], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    conf = {"mode": "demo", "initial_chunk_rows": 500, "max_parallel_chunks": 2}
    run = subprocess.run([AIRFLOW, "dags", "test", DAG_ID, "-c", json.dumps(conf)], env=env, capture_output=True,
                         text=True, timeout=600, cwd=ROOT)
    log = run.stdout + run.stderr
    assert run.returncode == 0 and "state=success" in log, log[-4000:]
    assert "zero-loss check passed" in log and "quarantine by reason" in log
    with psycopg.connect(demo_db) as conn:
        missing = conn.execute("""
            SELECT count(*) FROM public.activity_logs s
             WHERE NOT EXISTS (SELECT 1 FROM public.events e WHERE e.legacy_activity_log_id = s.id)
               AND NOT EXISTS (SELECT 1 FROM activity_migration.quarantine q WHERE q.legacy_id = s.id::text)
            """).fetchone()[0]
        steps = dict(conn.execute("SELECT step, status FROM activity_migration.phase_ledger "
                                  "WHERE phase = 'p4_backfill' ORDER BY id").fetchall())
        chunks = conn.execute("SELECT count(*) FILTER (WHERE status <> 'done'), count(*) "
                              "FROM activity_migration.backfill_chunks").fetchone()
    assert missing == 0
    assert steps.get("plan") == "succeeded" and steps.get("copy") == "succeeded" and steps.get("verify") == "succeeded"
    assert chunks[0] == 0 and chunks[1] >= 2
