"""The staging-rehearsal gate (activity_migration.rehearsal), against real databases.

Staging ledger rows are written with ``ledger.record`` with the fields the phases write
(phase id, the destructive step's ledger step, environment staging, the project version
of the process); the DAG-level test at the bottom runs the real p2 DAG in both environments.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from psycopg import sql

from activity_migration import ledger
from activity_migration.config import load_config
from activity_migration.db import connection
from activity_migration.errors import GateClosed
from activity_migration.rehearsal import (
    check_rehearsal,
    enforce_rehearsal,
    is_destructive,
    rehearsal_report,
    render_evidence_markdown,
)
from dagrun import ROOT, dags_test, dags_test_succeeded
from testdb import create_database, drop_database

STAGING = ledger.RunContext(environment="staging", mode="normal", dag_run_id="manual__stg_1")
PRODUCTION = ledger.RunContext(environment="production", mode="normal", dag_run_id="manual__prod_1")
# Demo mode: a demo-mode staging run rehearses only a demo-mode production run (on a demo database).
STAGING_DEMO = ledger.RunContext(environment="staging", mode="demo", dag_run_id="manual__stg_demo")
PRODUCTION_DEMO = ledger.RunContext(environment="production", mode="demo", dag_run_id="manual__prod_demo")


@pytest.fixture
def version(monkeypatch):
    """Set the project version the process records (ledger.project_version is cached)."""

    def set_version(v: str) -> str:
        monkeypatch.setenv("ACTIVITY_MIGRATION_VERSION", v)
        ledger.project_version.cache_clear()
        return v

    yield set_version
    ledger.project_version.cache_clear()


@pytest.fixture
def two_dbs(fresh_db, pg_admin_dsn):
    """(staging_dsn, production_dsn): two empty databases with the state schema."""
    name, prod = create_database(pg_admin_dsn, prefix="amt_prod")
    for dsn in (fresh_db, prod):
        with connection(dsn) as conn:
            ledger.ensure_state_schema(conn)
    yield fresh_db, prod
    drop_database(pg_admin_dsn, name)


def rehearse(
    dsn: str, phase: str, step: str, ctx: ledger.RunContext = STAGING, status: str = "succeeded"
) -> int:
    with connection(dsn) as conn:
        ledger.record(conn, phase, "apply", "succeeded", ctx)
        return ledger.record(conn, phase, step, status, ctx)


def add_validation(dsn: str, suite: str, success: bool, environment: str = "staging") -> None:
    cfg = load_config()
    with connection(dsn) as conn:
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (suite, success, environment, project_version, failures) "
                "VALUES (%s, %s, %s, %s, %s::jsonb)"
            ).format(sql.Identifier(cfg.state_schema, "validation_results")),
            (suite, success, environment, ledger.project_version(), "[]" if success else '[{"x": 1}]'),
        )
        conn.commit()


def check(dsn: str, phase: str, step: str, max_age_days: float = 7, production_mode: str = "normal") -> dict:
    with connection(dsn) as conn:
        return check_rehearsal(
            staging_conn=conn,
            phase=phase,
            step=step,
            project_version=ledger.project_version(),
            max_age_days=max_age_days,
            production_mode=production_mode,
        )


def test_destructive_step_names():
    assert is_destructive("p2_dual_write", "switch")
    assert is_destructive("p5_trigger_removal", "tier_3_drop")
    assert is_destructive("p6_cleanup", "cleanup") and is_destructive("p6_cleanup", "drop_legacy_functions")
    assert not is_destructive("p5_trigger_removal", "tier_3_backup")
    assert not is_destructive("p4_backfill", "copy")


def test_production_step_without_rehearsal_stops_then_runs_after_it(two_dbs, version):
    staging, prod = two_dbs
    version("abc123")
    with connection(prod) as conn:
        with pytest.raises(GateClosed) as exc:
            enforce_rehearsal(
                production_conn=conn,
                staging_dsn=staging,
                phase="p2_dual_write",
                step="switch",
                ctx=PRODUCTION,
            )
    assert (
        "no successful normal-mode staging rehearsal of p2_dual_write/switch at version abc123 in the last "
        "7 days; no staging run of p2_dual_write/switch is recorded at all"
    ) in str(exc.value)
    with connection(prod) as conn:
        row = ledger.last_step(conn, "p2_dual_write", "switch_rehearsal_gate")
    assert row["status"] == "failed" and row["environment"] == "production"
    assert row["details"]["passed"] is False and "no staging run" in row["details"]["message"]

    rehearse(staging, "p2_dual_write", "switch")
    with connection(prod) as conn:
        verdict = enforce_rehearsal(
            production_conn=conn, staging_dsn=staging, phase="p2_dual_write", step="switch", ctx=PRODUCTION
        )
        row = ledger.last_step(conn, "p2_dual_write", "switch_rehearsal_gate")
    assert verdict["passed"] and verdict["rehearsal"]["dag_run_id"] == "manual__stg_1"
    assert row["status"] == "succeeded" and row["details"]["rehearsal"]["project_version"] == "abc123"
    assert "Staging rehearsal PASSED" in verdict["markdown"]


def test_staging_run_is_not_gated(two_dbs, version):
    staging, prod = two_dbs
    version("abc123")
    with connection(staging) as conn:
        verdict = enforce_rehearsal(
            production_conn=conn, staging_dsn=prod, phase="p6_cleanup", step="cleanup", ctx=STAGING
        )
    assert verdict["required"] is False


def test_a_demo_staging_run_does_not_rehearse_a_normal_production_run(two_dbs, version):
    staging, prod = two_dbs
    version("abc123")
    rehearse(staging, "p2_dual_write", "switch", ctx=STAGING_DEMO)
    verdict = check(staging, "p2_dual_write", "switch")
    assert not verdict["passed"] and verdict["rehearsal_mode_required"] == "normal"
    assert verdict["message"].startswith(
        "no successful normal-mode staging rehearsal of p2_dual_write/switch at "
        "version abc123 in the last 7 days; newest staging run: version abc123"
    )
    assert "(mode demo: that staging run skipped its approvals" in verdict["message"]
    with (
        connection(prod) as conn,
        pytest.raises(GateClosed, match="needs a staging rehearsal in mode normal"),
    ):
        enforce_rehearsal(
            production_conn=conn, staging_dsn=staging, phase="p2_dual_write", step="switch", ctx=PRODUCTION
        )
    # the same step rehearsed in mode normal counts
    rehearse(staging, "p2_dual_write", "switch", ctx=STAGING)
    with connection(prod) as conn:
        verdict = enforce_rehearsal(
            production_conn=conn, staging_dsn=staging, phase="p2_dual_write", step="switch", ctx=PRODUCTION
        )
    assert verdict["passed"] and verdict["rehearsal"]["mode"] == "normal"
    assert "only a staging rehearsal in mode normal counts" in verdict["markdown"]


def test_a_demo_production_run_on_a_demo_database_may_use_a_demo_rehearsal(two_dbs, demo_db, version):
    staging, unmarked_prod = two_dbs
    version("abc123")
    rehearse(staging, "p2_dual_write", "switch", ctx=STAGING_DEMO)
    assert check(staging, "p2_dual_write", "switch", production_mode="demo")["passed"]
    with connection(demo_db) as conn:
        ledger.ensure_state_schema(conn)
        verdict = enforce_rehearsal(
            production_conn=conn,
            staging_dsn=staging,
            phase="p2_dual_write",
            step="switch",
            ctx=PRODUCTION_DEMO,
        )
    assert verdict["passed"] and verdict["rehearsal"]["mode"] == "demo"
    # demo mode on a production database without the demo seed's mark: refused, recorded
    with connection(unmarked_prod) as conn, pytest.raises(GateClosed, match="mode=demo refused on database"):
        enforce_rehearsal(
            production_conn=conn,
            staging_dsn=staging,
            phase="p2_dual_write",
            step="switch",
            ctx=PRODUCTION_DEMO,
        )
    with connection(unmarked_prod) as conn:
        row = ledger.last_step(conn, "p2_dual_write", "switch_rehearsal_gate")
    assert row["status"] == "failed" and "demo seed's mark" in row["details"]["message"]


def test_older_project_version_does_not_count(two_dbs, version):
    staging, prod = two_dbs
    version("9f8e7d")
    rehearse(staging, "p5_trigger_removal", "tier_3_drop")
    add_validation(staging, "parity", True)
    version("abc123")
    verdict = check(staging, "p5_trigger_removal", "tier_3_drop")
    assert not verdict["passed"]
    assert verdict["message"].startswith(
        "no successful normal-mode staging rehearsal of p5_trigger_removal/tier_3_drop at version abc123 in "
        "the "
        "last 7 days; newest staging run: version 9f8e7d on "
    )
    assert verdict["message"].endswith("(different project version)")
    with connection(prod) as conn, pytest.raises(GateClosed, match="version 9f8e7d"):
        enforce_rehearsal(
            production_conn=conn,
            staging_dsn=staging,
            phase="p5_trigger_removal",
            step="tier_3_drop",
            ctx=PRODUCTION,
        )
    # the same tier rehearsed at the new version counts; another tier's rehearsal does not
    rehearse(staging, "p5_trigger_removal", "tier_3_drop")
    add_validation(staging, "parity", True)
    assert check(staging, "p5_trigger_removal", "tier_3_drop")["passed"]
    assert not check(staging, "p5_trigger_removal", "tier_4_drop")["passed"]


def test_too_old_or_failed_rehearsal_does_not_count(two_dbs, version):
    staging, _ = two_dbs
    version("abc123")
    ledger_id = rehearse(staging, "p2_dual_write", "switch")
    cfg = load_config()
    with connection(staging) as conn:
        conn.execute(
            sql.SQL(
                "UPDATE {} SET started_at = now() - interval '10 days', "
                "finished_at = now() - interval '10 days' WHERE id = %s"
            ).format(sql.Identifier(cfg.state_schema, "phase_ledger")),
            (ledger_id,),
        )
        conn.commit()
    verdict = check(staging, "p2_dual_write", "switch")
    assert not verdict["passed"] and verdict["message"].endswith("(older than 7 days)")
    assert check(staging, "p2_dual_write", "switch", max_age_days=14)["passed"]
    rehearse(staging, "p2_dual_write", "switch", status="failed")
    verdict = check(staging, "p2_dual_write", "switch")
    assert not verdict["passed"] and "(status failed)" in verdict["message"]


def test_failed_validation_in_rehearsal_window_blocks(two_dbs, version):
    """A failed staging validation at this version blocks until a newer run of that suite passes."""
    staging, prod = two_dbs
    version("0ld0ld")
    add_validation(staging, "row_counts", False)  # another version's failure does not count
    version("abc123")
    add_validation(staging, "parity", True)
    rehearse(staging, "p5_trigger_removal", "tier_1_drop")
    add_validation(staging, "parity", True)
    add_validation(staging, "events_integrity", False)
    verdict = check(staging, "p5_trigger_removal", "tier_1_drop")
    assert not verdict["passed"]
    assert "the newest staging validation of events_integrity" in verdict["message"]
    assert {v["suite"]: v["success"] for v in verdict["validations"]} == {
        "parity": True,
        "events_integrity": False,
    }
    assert "| events_integrity | FAILED |" in render_evidence_markdown(verdict)
    with connection(prod) as conn, pytest.raises(GateClosed, match="events_integrity"):
        enforce_rehearsal(
            production_conn=conn,
            staging_dsn=staging,
            phase="p5_trigger_removal",
            step="tier_1_drop",
            ctx=PRODUCTION,
        )
    # fixed and re-validated in staging: the newest result per suite decides
    add_validation(staging, "events_integrity", True)
    assert check(staging, "p5_trigger_removal", "tier_1_drop")["passed"]


def test_p5_requires_a_validation_p2_does_not(two_dbs, version):
    staging, _ = two_dbs
    version("abc123")
    rehearse(staging, "p5_trigger_removal", "tier_2_drop")
    rehearse(staging, "p2_dual_write", "switch")
    verdict = check(staging, "p5_trigger_removal", "tier_2_drop")
    assert (
        not verdict["passed"]
        and "no validation result at this version is recorded in staging" in verdict["message"]
    )
    assert check(staging, "p2_dual_write", "switch")["passed"]


def test_p6_cleanup_gate_is_rehearsed_by_the_last_destructive_step(two_dbs, version):
    staging, _ = two_dbs
    version("abc123")
    add_validation(staging, "parity", True)
    rehearse(staging, "p6_cleanup", "archive")
    verdict = check(staging, "p6_cleanup", "cleanup")
    assert not verdict["passed"] and "p6_cleanup/drop_legacy_functions" in verdict["message"]
    rehearse(staging, "p6_cleanup", "drop_legacy_functions")
    verdict = check(staging, "p6_cleanup", "cleanup")
    assert verdict["passed"] and verdict["step"] == "cleanup"
    assert "rehearsed by the staging success of `drop_legacy_functions`" in render_evidence_markdown(verdict)


def test_run_recorded_as_production_in_staging_db_does_not_count(two_dbs, version):
    staging, _ = two_dbs
    version("abc123")
    rehearse(staging, "p2_dual_write", "switch", ctx=PRODUCTION)
    verdict = check(staging, "p2_dual_write", "switch")
    assert not verdict["passed"] and "recorded as environment 'production'" in verdict["message"]


def test_staging_connection_to_production_itself_or_unreachable_is_refused(two_dbs, version):
    staging, prod = two_dbs
    version("abc123")
    rehearse(prod, "p2_dual_write", "switch")  # a "staging" row in the production DB itself
    with (
        connection(prod) as conn,
        pytest.raises(GateClosed, match="points at the production database itself"),
    ):
        enforce_rehearsal(
            production_conn=conn, staging_dsn=prod, phase="p2_dual_write", step="switch", ctx=PRODUCTION
        )
    bad = staging.replace("dbname=", "dbname=does_not_exist_") if "dbname=" in staging else staging + "_nope"
    with connection(prod) as conn, pytest.raises(GateClosed, match="cannot read the staging ledger"):
        enforce_rehearsal(
            production_conn=conn, staging_dsn=bad, phase="p2_dual_write", step="switch", ctx=PRODUCTION
        )


def test_no_state_schema_in_staging(fresh_db, pg_admin_dsn, version):
    version("abc123")
    with connection(fresh_db) as conn:
        verdict = check_rehearsal(
            staging_conn=conn, phase="p2_dual_write", step="switch", project_version="abc123", max_age_days=7
        )
    assert not verdict["passed"] and "has no migration state schema" in verdict["message"]


def test_rehearsal_report_shows_both_ledgers(two_dbs, version):
    staging, prod = two_dbs
    version("abc123")
    rehearse(staging, "p2_dual_write", "switch")
    with connection(prod) as conn:
        enforce_rehearsal(
            production_conn=conn, staging_dsn=staging, phase="p2_dual_write", step="switch", ctx=PRODUCTION
        )
        ledger.record(conn, "p2_dual_write", "switch", "succeeded", PRODUCTION)
    rehearse(staging, "p2_dual_write", "backup", ctx=STAGING_DEMO)
    report = rehearsal_report(staging, prod)
    lines = {line.split("|")[2].strip(): line for line in report.splitlines()[2:]}
    assert "succeeded | abc123" in lines["switch"].split("|", 3)[3]
    assert lines["switch"].count("succeeded | abc123") == 2  # staging and production columns
    assert "succeeded (demo) | abc123" in lines["backup"]  # a demo-mode row says so
    assert lines["switch_rehearsal_gate"].split("|")[3].strip() == "–"  # gate rows exist in production only
    assert "succeeded" in lines["switch_rehearsal_gate"].split("|")[6]


# ---------------------------------------------------------------------------------------
# Through the DAGs: the gate is wired in front of every destructive step, and it works under
# `airflow dags test` with two databases (staging and production connections from env vars).

# Override to try a DAG change before it lands (e.g. a copy of dags/ with the gate wired in).
DAGS_DIR = Path(os.environ.get("REHEARSAL_TEST_DAGS_FOLDER", ROOT / "dags"))
DAG_VERSION = "dagtest-v1"
DAG_ENV = {
    "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
    "ACTIVITY_MIGRATION_VERSION": DAG_VERSION,
    "AIRFLOW_VAR_MIGRATION_ALERT_EMAILS": "dba@localhost",
}


def _dag(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    path = DAGS_DIR / f"{dag_id}.py"
    if not path.exists():
        pytest.skip(f"dags/{dag_id}.py does not exist yet")
    bag = DagBag(dag_folder=str(path))
    assert not bag.import_errors, bag.import_errors
    return bag.dags[dag_id]


@pytest.mark.parametrize(
    "dag_id", ["migration_p2_dual_write", "migration_p5_trigger_removal", "migration_p6_cleanup"]
)
def test_destructive_steps_are_behind_a_rehearsal_gate(dag_id):
    """Every task that records a destructive ledger step runs after a *_rehearsal_gate task."""
    dag = _dag(dag_id)
    gates = [t for t in dag.tasks if t.task_id.endswith("_rehearsal_gate")]
    assert gates, (
        f"{dag_id} has no rehearsal gate: add `rehearsal_gate(phase=..., step=...)` from "
        "migration_airflow.rehearsal upstream of its destructive step (docs/staging-rehearsal.md)"
    )
    for g in gates:
        assert g.downstream_list, f"{g.task_id} gates nothing"


def _p2_dags_test(env: dict, environment: str, staging: str, prod: str):
    return dags_test(
        env,
        "migration_p2_dual_write",
        {"mode": "demo", "environment": environment},
        staging_dsn=staging,
        production_dsn=prod,
        extra_env=DAG_ENV,
    )


@pytest.fixture
def p2_gate_wired():
    """Skip (before the slow fixtures) while the p2 DAG does not call rehearsal_gate yet."""
    if "switch_rehearsal_gate" not in _dag("migration_p2_dual_write").task_ids:
        pytest.skip("migration_p2_dual_write does not call rehearsal_gate yet (see the wiring test)")


def test_p2_production_run_needs_a_staging_run_of_the_same_dag(
    p2_gate_wired, airflow_env, demo_db, demo_template, pg_admin_dsn
):
    from activity_migration.phases import p1_infrastructure

    name, prod = create_database(pg_admin_dsn, prefix="amt_prod", template=demo_template)
    staging = demo_db
    try:
        os.environ["ACTIVITY_MIGRATION_VERSION"] = DAG_VERSION
        ledger.project_version.cache_clear()
        for dsn, environment in ((staging, "staging"), (prod, "production")):
            p1_infrastructure.apply(
                dsn, load_config(), ledger.RunContext(environment=environment, mode="demo")
            )

        first = _p2_dags_test(airflow_env, "production", staging, prod)
        with connection(prod) as conn:
            gate = ledger.last_step(conn, "p2_dual_write", "switch_rehearsal_gate")
            switched = ledger.last_step(conn, "p2_dual_write", "switch", status="succeeded")
        assert gate is not None and gate["status"] == "failed", first.stdout[-6000:]
        assert (
            "no successful staging rehearsal of p2_dual_write/switch at version dagtest-v1"
            in gate["details"]["message"]
        )
        assert switched is None  # nothing destructive ran in production

        rehearsal = _p2_dags_test(airflow_env, "staging", staging, prod)
        assert dags_test_succeeded(rehearsal), rehearsal.stdout[-6000:]
        with connection(staging) as conn:
            assert ledger.last_step(
                conn, "p2_dual_write", "switch", status="succeeded", environment="staging"
            )

        second = _p2_dags_test(airflow_env, "production", staging, prod)
        assert dags_test_succeeded(second), second.stdout[-6000:]
        with connection(prod) as conn:
            gate = ledger.last_step(conn, "p2_dual_write", "switch_rehearsal_gate")
            switched = ledger.last_step(conn, "p2_dual_write", "switch", status="succeeded")
        assert gate["status"] == "succeeded" and gate["details"]["rehearsal"]["environment"] == "staging"
        assert switched is not None and switched["environment"] == "production"
    finally:
        os.environ.pop("ACTIVITY_MIGRATION_VERSION", None)
        ledger.project_version.cache_clear()
        drop_database(pg_admin_dsn, name)
