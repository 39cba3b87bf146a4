"""Demo mode skips approvals only on a database carrying the demo seed's mark (issue 16).

The gate's route and demo-approval tasks are called directly with a real database behind
the run's connection: an unmarked database (``fresh_db``) refuses, the seeded demo database
(``demo_db``) skips and records the skip, in either environment.
"""

from __future__ import annotations

from types import SimpleNamespace

import psycopg
import pytest

from activity_migration import ledger
from activity_migration.db import connection, fetch_all
from activity_migration.errors import ConfigError
from dagrun import conn_uri


def _gate_tasks():
    from airflow.sdk import DAG

    from migration_airflow.approval import approval_gate

    with DAG("demo_rule_test", schedule=None) as dag:
        approval_gate(
            phase="p2_dual_write", step="switch", subject="Switch {{ params.environment }}?", body="b"
        )
    return dag.get_task("switch_route"), dag.get_task("switch_demo_approval")


def _context(task, environment: str) -> dict:
    return {
        "params": {"environment": environment, "mode": "demo"},
        "task": task,
        "dag_run": SimpleNamespace(run_id=f"manual__demo_{environment}", triggering_user_name="alice"),
    }


def _point_connections_at(monkeypatch, dsn: str) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_ACTIVITY_DB", conn_uri(dsn))
    monkeypatch.setenv("AIRFLOW_CONN_ACTIVITY_DB_STAGING", conn_uri(dsn))


def _skips(dsn: str) -> list[dict]:
    with connection(dsn) as conn:
        if not ledger.state_schema_exists(conn):
            return []
        return fetch_all(
            conn,
            "SELECT status, environment, mode, actor FROM activity_migration.phase_ledger "
            "WHERE step = 'switch_approval'",
        )


@pytest.mark.parametrize("environment", ["production", "staging"])
def test_demo_mode_is_refused_on_an_unmarked_database(fresh_db, monkeypatch, environment):
    _point_connections_at(monkeypatch, fresh_db)
    with connection(fresh_db) as conn:
        ledger.ensure_state_schema(conn)
    dbname = psycopg.conninfo.conninfo_to_dict(fresh_db)["dbname"]
    route, demo = _gate_tasks()
    with pytest.raises(ConfigError, match=f"mode=demo refused on database '{dbname}' on host 127.0.0.1"):
        route.python_callable(**_context(route, environment))
    # the demo task alone must not skip either
    with pytest.raises(ConfigError, match="demo seed's mark"):
        demo.python_callable(**_context(demo, environment))
    assert _skips(fresh_db) == []


def test_normal_mode_routes_to_the_approval_without_touching_the_database():
    route, _ = _gate_tasks()
    assert route.python_callable(params={"environment": "production", "mode": "normal"}) == "switch_approval"


@pytest.mark.parametrize("environment", ["production", "staging"])
def test_demo_mode_skips_and_records_on_the_demo_database(demo_db, monkeypatch, environment):
    _point_connections_at(monkeypatch, demo_db)
    with connection(demo_db) as conn:
        ledger.ensure_state_schema(conn)
    route, demo = _gate_tasks()
    assert route.python_callable(**_context(route, environment)) == "switch_demo_approval"
    assert demo.python_callable(**_context(demo, environment))["approved_by"].startswith("demo-mode")
    rows = _skips(demo_db)
    assert [(r["status"], r["environment"], r["mode"]) for r in rows] == [("skipped", environment, "demo")]
