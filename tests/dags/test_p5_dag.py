"""migration_p5_trigger_removal under `airflow dags test`: tier 1 in demo mode, workload running.

The sensors need application writes during their windows, so the demo workload generator
plays the (upgraded) application in a thread while the subprocess runs.
"""
from __future__ import annotations

import json
import os
import subprocess
import threading
from pathlib import Path

import psycopg
import pytest

from activity_migration import catalog, ledger, tiers
from activity_migration.config import load_config
from activity_migration.ledger import RunContext

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW = str(ROOT / ".venv" / "bin" / "airflow") if (ROOT / ".venv" / "bin" / "airflow").exists() else "airflow"
CFG = load_config()
DAG_ID = "migration_p5_trigger_removal"


def _uri(dsn: str) -> str:
    p = psycopg.conninfo.conninfo_to_dict(dsn)
    return f"postgresql://{p.get('user', 'postgres')}@{p.get('host', '127.0.0.1')}:{p.get('port', 5432)}/{p['dbname']}"


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow_home_p5")
    env = dict(os.environ)
    env.update({
        "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False", "AIRFLOW_VAR_MIGRATION_ALERT_EMAILS": "dba@localhost",
    })
    out = subprocess.run([AIRFLOW, "db", "migrate"], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return env


def _dags_test(env: dict, conf: dict) -> subprocess.CompletedProcess:
    return subprocess.run([AIRFLOW, "dags", "test", DAG_ID, "-c", json.dumps(conf)], env=env, capture_output=True,
                          text=True, timeout=600, cwd=ROOT)


CONF = {"tier": 1, "mode": "demo", "environment": "staging", "sensor_window_seconds": 6, "probe_writes": 30,
        "sensor_timeout_minutes": 3, "max_regression_pct": 50}


def test_tier_1_runs_end_to_end_in_demo_mode_with_the_app_writing(airflow_env, demo_db, tmp_path):
    from activity_migration.demo.workload import run_workload
    from activity_migration.phases import p1_infrastructure, p2_dual_write, p4_backfill

    # Phase 5's preconditions: events infrastructure, dual write, history backfilled (parity passes).
    ctx = RunContext(environment="staging", mode="demo")
    p1_infrastructure.apply(demo_db, CFG, ctx)
    p2_dual_write.apply(demo_db, CFG, ctx)
    p4_backfill.apply(demo_db, CFG, ctx)
    env = dict(airflow_env, AIRFLOW_CONN_ACTIVITY_DB_STAGING=_uri(demo_db))
    stop = threading.Event()
    result: dict = {}
    worker = threading.Thread(target=lambda: result.update(report=run_workload(
        demo_db, seconds=500, rate=60, connections=3, publish="auto", stop_event=stop)), daemon=True)
    worker.start()
    try:
        out = _dags_test(env, CONF)
    finally:
        stop.set()
        worker.join(timeout=60)
    (tmp_path / "dags_test.log").write_text(out.stdout + out.stderr)
    log = f"full log: {tmp_path / 'dags_test.log'}\n" + out.stdout[-4000:] + out.stderr[-4000:]
    assert out.returncode == 0, log
    assert result["report"].failed == 0, result["report"].summary()

    with psycopg.connect(demo_db) as conn:
        state = tiers.tier_states(conn, CFG)[1]
        remaining = {t.table for t in catalog.logging_triggers(conn, CFG)}
        drop = ledger.last_step(conn, "p5_trigger_removal", "tier_1_drop", cfg=CFG)
        approval = ledger.last_step(conn, "p5_trigger_removal", "tier_drop_approval", cfg=CFG)
        flow = conn.execute("SELECT count(*) FROM activity_migration.perf_samples "
                            "WHERE purpose = 'event_flow' AND tier = 1").fetchone()[0]
    assert state["status"] == "verified", log
    assert "improvement_pct" in state["improvement"] and state["improvement"]["event_ratio"] >= 0.95
    assert not remaining & set(CFG.tier(1).table_names)
    assert len(remaining) == 15  # tiers 2..5 untouched
    assert drop["status"] == "succeeded"
    assert approval["status"] == "skipped" and approval["mode"] == "demo"
    assert flow >= 1

    # A second run of the same tier is a green no-op (gate short-circuits everything after it).
    again = _dags_test(env, CONF)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    with psycopg.connect(demo_db) as conn:
        assert tiers.tier_states(conn, CFG)[1]["status"] == "verified"
        gate = ledger.last_step(conn, "p5_trigger_removal", "tier_1_gate", cfg=CFG)
    assert gate["details"]["proceed"] is False
