"""Every DAG, staging then production, on a third application unlike the demo (tests/staff_app.py:
a staff-only log with an identity key GENERATED ALWAYS, text entity ids, no tenant, one generic
logging function, RPCs writing the log, an application that publishes only once told), under
write load; then each environment rolled back from after phase 6 to before phase 1."""

from __future__ import annotations

import subprocess
import sys
import time

import psycopg

import staff_app
from app_checks import scalar, zero_loss
from catalog_snapshot import diff, snapshot
from dagrun import ROOT, dags_test, dags_test_succeeded
from testdb import create_database, drop_database

TIER_CONF = {"sensor_window_seconds": 6, "sensor_timeout_minutes": 5}
LOG = "public.audit_log"


def test_every_phase_staging_then_production_then_back_to_before_phase_1(
    airflow_env, pg_admin_dsn, fresh_db, tmp_path
):
    name, production = create_database(pg_admin_dsn, prefix="amt_staffprod")
    try:
        dbs = {"staging": fresh_db, "production": production}
        for dsn in dbs.values():
            staff_app.create(dsn, history_rows=2000)
            with psycopg.connect(dsn) as conn:  # throwaway databases: demo mode (approvals skipped) may run
                conn.execute("COMMENT ON SCHEMA auth IS 'activity-migration demo seed v1'")
        # one project version for both environments, whatever happens to the working tree meanwhile
        extra = {
            "ACTIVITY_MIGRATION_CONFIG": str(staff_app.write_config(tmp_path)),
            "ACTIVITY_MIGRATION_VERSION": "staff-app-test",
        }
        for environment, dsn in dbs.items():
            _migrate_and_roll_back(airflow_env, environment, dsn, fresh_db, production, extra, tmp_path)
    finally:
        drop_database(pg_admin_dsn, name)


def _migrate_and_roll_back(
    airflow_env, environment: str, dsn: str, staging: str, production: str, extra: dict, tmp_path
) -> None:
    before = snapshot(dsn)
    logs_before = scalar(dsn, f"SELECT count(*) FROM {LOG}")

    def run(dag_id: str, conf: dict | None = None) -> str:
        proc = dags_test(
            airflow_env,
            dag_id,
            {"environment": environment, **(conf or {})},
            staging_dsn=staging,
            production_dsn=production,
            extra_env=extra,
        )
        log = tmp_path / f"{environment}-{dag_id}-{len(list(tmp_path.glob(f'{environment}-{dag_id}*')))}.log"
        log.write_text(proc.stdout)
        errors = [line for line in proc.stdout.splitlines() if "ERROR" in line or "rror:" in line][:20]
        assert dags_test_succeeded(proc), f"{environment} {dag_id} {conf} failed (log {log}):\n" + "\n".join(
            errors
        )
        return proc.stdout

    with staff_app.Load(dsn, rate=20, connections=4) as load:
        time.sleep(1)
        run("migration_p1_infrastructure")
        with psycopg.connect(dsn) as conn:  # the staff-only rule, carried over as it was
            quals = [
                r[0]
                for r in conn.execute(
                    "SELECT qual FROM pg_policies WHERE tablename = 'events' AND 'authenticated' = ANY(roles)"
                )
            ]
        assert len(quals) == 1 and "role = 'staff'" in quals[0], quals
        run("migration_p2_dual_write")
        with psycopg.connect(dsn) as conn:  # the generic function and both RPCs now call the internal writer
            rewritten = {
                r[0]
                for r in conn.execute(
                    "SELECT proname FROM pg_proc WHERE prosrc LIKE "
                    "'%publish_activity_internal(%' AND pronamespace = 'public'::regnamespace "
                    "AND proname <> 'publish_activity'"
                )
            }
        assert rewritten == {"log_change", "record_login", "close_tickets"}, rewritten
        run("migration_p3_read_path")  # read parity: staff see everything, clients nothing, both ways
        run("migration_p4_backfill", {"max_parallel_chunks": 2})
        loss = zero_loss(dsn, LOG)
        assert loss["missing"] == 0 and loss["duplicated"] == 0, loss
        assert loss["quarantined"] == staff_app.QUARANTINED_HISTORY_ROWS, loss
        run("migration_consistency_nightly", {"full_check": True})
        for tier in (1, 2):
            run("migration_p5_trigger_removal", {"tier": tier, **TIER_CONF})
        assert zero_loss(dsn, LOG)["missing"] == 0
        ack = subprocess.run(
            [
                sys.executable,
                "-m",
                "activity_migration.cli",
                "quarantine",
                "--dsn",
                dsn,
                "--ack",
                "--by",
                "pytest",
                "--all",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env={**airflow_env, **extra},
        )
        assert ack.returncode == 0, ack.stderr
        run("migration_p6_cleanup", {"validation_max_age_hours": 24})
        assert (
            scalar(dsn, "SELECT relkind::text FROM pg_class WHERE oid = 'public.audit_log'::regclass") == "v"
        )
        time.sleep(2)
        run("migration_consistency_nightly")  # after cleanup: events against the archive, no crash
        run("migration_rollback", {"to_phase": "before_p1"})
        time.sleep(1)
    report = load.stop()
    assert report.failed == 0, report.errors
    assert report.published > 0  # told, the application published for its tables
    assert diff(before, snapshot(dsn)) == {}
    logs_after = scalar(dsn, f"SELECT count(*) FROM {LOG}")
    assert logs_after - logs_before == report.logged_dml, (logs_before, logs_after, report)
