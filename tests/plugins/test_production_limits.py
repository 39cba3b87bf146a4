"""Production limits on gate-weakening Params, through the DAGs' own tasks (issue 16).

The tasks that read a limited Param are called directly with a production context and a real
ledger database; each test shows the clamp takes effect (a gate that a weak value would open
stays closed) and is recorded in the ledger row of the step that used it. The limits
themselves are tested in tests/test_run_rules.py.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace

import pytest
from psycopg import sql

from activity_migration import ledger
from activity_migration.config import load_config
from activity_migration.db import connection, fetch_all
from activity_migration.errors import ConfigError, GateClosed
from dagrun import ROOT, conn_uri
from testdb import create_database, drop_database

DAGS = Path(ROOT) / "dags"


def _dag(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS / f"{dag_id}.py"))
    assert not bag.import_errors, bag.import_errors
    return bag.dags[dag_id]


def _context(dag, task_id: str, params: dict, run_id: str) -> dict:
    task = dag.get_task(task_id)
    full = {**{k: dag.params[k] for k in dag.params}, **params}
    return {
        "params": full,
        "task": task,
        "ti": SimpleNamespace(xcom_push=lambda *a, **k: None),
        "dag_run": SimpleNamespace(run_id=run_id, triggering_user_name="alice"),
    }


def _call(dag, task_id: str, params: dict, run_id: str):
    return dag.get_task(task_id).python_callable(**_context(dag, task_id, params, run_id))


@pytest.fixture
def prod_db(fresh_db, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_ACTIVITY_DB", conn_uri(fresh_db))
    monkeypatch.setenv("AIRFLOW_CONN_ACTIVITY_DB_STAGING", conn_uri(fresh_db))
    monkeypatch.delenv("AIRFLOW_VAR_MIGRATION_REHEARSAL_MAX_AGE_DAYS", raising=False)
    with connection(fresh_db) as conn:
        ledger.ensure_state_schema(conn)
    return fresh_db


def _rows(dsn: str, step: str) -> list[dict]:
    with connection(dsn) as conn:
        return fetch_all(
            conn,
            "SELECT status, environment, details FROM activity_migration.phase_ledger "
            "WHERE step = %s ORDER BY id",
            (step,),
        )


def test_params_of_clamps_in_production_only(caplog):
    from migration_airflow.runtime import param_clamps, params_of, raw_params

    caplog.set_level(logging.WARNING, logger="activity_migration.run_rules")
    ctx = {
        "params": {"environment": "production", "retention_days": 1, "validation_max_age_hours": 24},
        "dag_run": SimpleNamespace(run_id="manual__params_of"),
    }
    assert params_of(ctx)["retention_days"] == 7 and params_of(ctx)["validation_max_age_hours"] == 24
    assert raw_params(ctx)["retention_days"] == 1
    assert [c["param"] for c in param_clamps(ctx)] == ["retention_days"]
    warnings = [r.getMessage() for r in caplog.records if "retention_days" in r.getMessage()]
    assert len(warnings) == 1  # once per run, however often the Params are read
    assert "retention_days=1 asked (Param) is below the production minimum 7: using 7" in warnings[0]
    staging = {"params": {"environment": "staging", "retention_days": 1}}
    assert params_of(staging)["retention_days"] == 1 and param_clamps(staging) == []


def test_p4_refuses_allow_without_cutoff_in_production():
    dag = _dag("migration_p4_backfill")
    with pytest.raises(ConfigError, match="allow_without_cutoff=True .* is refused in production"):
        _call(dag, "plan", {"environment": "production", "allow_without_cutoff": True}, "manual__p4")


def _validation_results(dsn: str, environment: str, hours_old: float) -> None:
    cfg = load_config()
    with connection(dsn) as conn:
        for suite in ("parity", "events_integrity"):
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} (suite, scope, success, environment, run_at) "
                    "VALUES (%s, 'full', true, %s, now() - make_interval(secs => %s))"
                ).format(sql.Identifier(cfg.state_schema, "validation_results")),
                (suite, environment, hours_old * 3600),
            )
        conn.commit()


def test_p6_validation_max_age_is_held_to_48_hours_in_production(prod_db):
    dag = _dag("migration_p6_cleanup")
    _validation_results(prod_db, "production", hours_old=60)
    _validation_results(prod_db, "staging", hours_old=60)
    # staging: the Param as asked (100 h) lets a 60 h old validation through
    _call(dag, "validation_gate", {"environment": "staging", "validation_max_age_hours": 100}, "manual__stg")
    # production: held to 48 h, the same 60 h old validation closes the gate
    with pytest.raises(GateClosed, match="older than the allowed 48 h"):
        _call(
            dag,
            "validation_gate",
            {"environment": "production", "validation_max_age_hours": 100},
            "manual__prd",
        )
    rows = _rows(prod_db, "validation_gate")
    assert [(r["environment"], r["status"]) for r in rows] == [
        ("staging", "succeeded"),
        ("production", "failed"),
    ]
    assert "param_clamps" not in rows[0]["details"]
    assert [(c["param"], c["asked"], c["effective"]) for c in rows[1]["details"]["param_clamps"]] == [
        ("validation_max_age_hours", 100, 48)
    ]


def test_p6_archive_retention_is_at_least_7_days_in_production(prod_db, monkeypatch):
    """The archive step records the archive's retention (delete_archive refuses before it passes)."""
    from activity_migration.phases import p6_cleanup

    used = {}

    def archive(dsn, cfg, ctx, *, keep_compat_view, retention_days):  # stands in for the DDL, not the ledger
        used["retention_days"] = retention_days
        with connection(dsn) as conn:
            ledger.record(conn, "p6_cleanup", "archive", "succeeded", ctx, {"retention_days": retention_days})
        return {"retention_days": retention_days}

    monkeypatch.setattr(p6_cleanup, "archive", archive)
    dag = _dag("migration_p6_cleanup")
    _call(dag, "archive", {"environment": "production", "retention_days": 0}, "manual__arch")
    assert used["retention_days"] == 7
    row = _rows(prod_db, "archive")[-1]
    assert row["details"]["retention_days"] == 7
    assert row["details"]["param_clamps"][0] | {"source": None} == {
        "param": "retention_days",
        "asked": 0,
        "limit": 7,
        "effective": 7,
        "rule": "production minimum",
        "source": None,
    }


def test_p5_event_ratio_clamp_is_recorded_with_the_tier(prod_db, monkeypatch):
    from activity_migration.phases import p5_trigger_removal as p5

    def verify(dsn, cfg, ctx, tier):  # stands in for the catalog checks, not the ledger
        with connection(dsn) as conn:
            ledger.record(conn, "p5_trigger_removal", f"tier_{tier}_done", "succeeded", ctx, {"tier": tier})
        return {"tier": tier}

    monkeypatch.setattr(p5, "verify", verify)
    dag = _dag("migration_p5_trigger_removal")
    _call(
        dag, "record_done", {"environment": "production", "tier": 1, "min_event_ratio": 0.2}, "manual__p5done"
    )
    clamps = _rows(prod_db, "tier_1_done")[-1]["details"]["param_clamps"]
    assert [(c["param"], c["asked"], c["effective"]) for c in clamps] == [("min_event_ratio", 0.2, 0.9)]
    # the sensor reads the same Params through params_of: it judges with 0.9
    from migration_airflow.runtime import params_of

    assert (
        params_of({"params": {"environment": "production", "min_event_ratio": 0.2}})["min_event_ratio"] == 0.9
    )


@pytest.fixture
def staging_and_prod(prod_db, pg_admin_dsn, monkeypatch):
    name, staging = create_database(pg_admin_dsn, prefix="amt_stg")
    with connection(staging) as conn:
        ledger.ensure_state_schema(conn)
    monkeypatch.setenv("AIRFLOW_CONN_ACTIVITY_DB_STAGING", conn_uri(staging))
    monkeypatch.setenv("ACTIVITY_MIGRATION_VERSION", "limits-v1")
    ledger.project_version.cache_clear()
    yield staging, prod_db
    ledger.project_version.cache_clear()
    drop_database(pg_admin_dsn, name)


def _old_rehearsal(staging: str, phase: str, step: str, days_old: float) -> None:
    cfg = load_config()
    ctx = ledger.RunContext(environment="staging", mode="normal", dag_run_id="manual__stg_old")
    with connection(staging) as conn:
        row_id = ledger.record(conn, phase, step, "succeeded", ctx)
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (suite, success, environment, project_version, run_at) "
                "VALUES ('parity', true, 'staging', %s, now() - make_interval(secs => %s))"
            ).format(sql.Identifier(cfg.state_schema, "validation_results")),
            (ledger.project_version(), days_old * 86400),
        )
        conn.execute(
            sql.SQL(
                "UPDATE {} SET started_at = now() - make_interval(secs => %s), finished_at = "
                "now() - make_interval(secs => %s) WHERE id = %s"
            ).format(sql.Identifier(cfg.state_schema, "phase_ledger")),
            (days_old * 86400, days_old * 86400, row_id),
        )
        conn.commit()


def test_p5_rehearsal_max_age_is_held_to_14_days_in_production(staging_and_prod):
    staging, prod = staging_and_prod
    _old_rehearsal(staging, "p5_trigger_removal", "tier_1_done", days_old=20)
    dag = _dag("migration_p5_trigger_removal")
    with pytest.raises(
        GateClosed, match="in the last 14 days"
    ):  # 30 asked: a 20-day-old rehearsal would pass
        _call(
            dag,
            "tier_drop_rehearsal_gate",
            {"environment": "production", "tier": 1, "rehearsal_max_age_days": 30},
            "manual__p5gate",
        )
    row = _rows(prod, "tier_1_done_rehearsal_gate")[-1]
    assert row["status"] == "failed" and row["details"]["max_age_days"] == 14
    assert [(c["param"], c["asked"], c["effective"]) for c in row["details"]["param_clamps"]] == [
        ("rehearsal_max_age_days", 30, 14)
    ]
    assert "`rehearsal_max_age_days` asked 30 (Param), used 14" in row["details"]["markdown"]
    with pytest.raises(ConfigError, match="rehearsal_max_age_days=0 .* must be more than 0"):
        _call(
            dag,
            "tier_drop_rehearsal_gate",
            {"environment": "production", "tier": 1, "rehearsal_max_age_days": 0},
            "manual__p5gate0",
        )


def test_the_max_age_variable_is_clamped_in_production_too(monkeypatch):
    from migration_airflow.rehearsal import max_age_days_and_clamps

    monkeypatch.setenv("AIRFLOW_VAR_MIGRATION_REHEARSAL_MAX_AGE_DAYS", "60")
    days, clamps = max_age_days_and_clamps({"params": {"environment": "production"}})
    assert days == 14 and clamps[0]["source"] == "Variable migration_rehearsal_max_age_days"
    assert max_age_days_and_clamps({"params": {"environment": "staging"}}) == (60.0, [])
    monkeypatch.setenv("AIRFLOW_VAR_MIGRATION_REHEARSAL_MAX_AGE_DAYS", "-1")
    with pytest.raises(ConfigError, match="must be more than 0"):
        max_age_days_and_clamps({"params": {"environment": "production"}})


@pytest.mark.parametrize(
    "dag_id, param, words",
    [
        ("migration_p5_trigger_removal", "min_event_ratio", "Production: at least 0.9"),
        ("migration_p5_trigger_removal", "rehearsal_max_age_days", "Production: at most 14 days"),
        ("migration_p6_cleanup", "rehearsal_max_age_days", "Production: at most 14 days"),
        ("migration_p6_cleanup", "retention_days", "Production: at least 7 days"),
        ("migration_p6_cleanup", "validation_max_age_hours", "Production: at most 48 hours"),
        ("migration_p4_backfill", "allow_without_cutoff", "Refused in production"),
    ],
)
def test_the_trigger_form_names_each_limit(dag_id, param, words):
    assert words in _dag(dag_id).params.get_param(param).description
