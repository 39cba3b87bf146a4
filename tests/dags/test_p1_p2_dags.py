"""The phase 1 and phase 2 DAGs run end to end under ``airflow dags test`` in demo mode."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW = str(Path(sys.executable).parent / "airflow")


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow_home")
    env = dict(os.environ,
               AIRFLOW_HOME=str(home),
               AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
               AIRFLOW__CORE__PLUGINS_FOLDER=str(ROOT / "plugins"),
               AIRFLOW__CORE__LOAD_EXAMPLES="False",
               AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}")
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    return env


def _dags_test(env: dict, dag_id: str, dsn: str) -> subprocess.CompletedProcess:
    run_env = dict(env, AIRFLOW_CONN_ACTIVITY_DB_STAGING=_uri(dsn))
    return subprocess.run([AIRFLOW, "dags", "test", dag_id, "-c", json.dumps({"mode": "demo"})], env=run_env,
                          capture_output=True, text=True, timeout=600)


def _uri(dsn: str) -> str:
    d = psycopg.conninfo.conninfo_to_dict(dsn)
    return f"postgresql://{d.get('user', 'postgres')}@{d.get('host', '127.0.0.1')}:{d.get('port', 5432)}/{d['dbname']}"


def test_p1_then_p2_dags_succeed_and_ledger_shows_demo_skipped_approval(airflow_env, demo_db):
    for dag_id in ("migration_p1_infrastructure", "migration_p2_dual_write"):
        proc = _dags_test(airflow_env, dag_id, demo_db)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0 and "state=success" in out, out[-4000:]
    with psycopg.connect(demo_db) as conn:
        rows = conn.execute("SELECT phase, step, status, mode, environment, actor FROM activity_migration.phase_ledger "
                            "ORDER BY id").fetchall()
        dual = conn.execute("SELECT value FROM activity_migration.settings WHERE key = 'dual_write'").fetchone()[0]
    steps = [(r[0], r[1], r[2]) for r in rows]
    assert ("p1_infrastructure", "verify", "succeeded") in steps
    assert ("p2_dual_write", "switch", "succeeded") in steps and ("p2_dual_write", "verify", "succeeded") in steps
    approval = [r for r in rows if r[1] == "switch_approval"]
    assert approval and approval[0][2] == "skipped" and approval[0][3] == "demo" and "demo" in approval[0][5]
    assert all(r[4] == "staging" for r in rows)
    assert dual["enabled"] is True
