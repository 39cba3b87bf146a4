"""Every migration DAG, in order, on an application that is not the demo, with the app writing.

The application (``tests/foreign_app.py``) has a bigint log key, other column names, tables in
two schemas, a shared logging helper, ``INSERT … SELECT`` writers, a statement-level trigger
over a transition table, and its own config with three tiers. The DAGs run under
``airflow dags test`` in demo mode (approvals skipped and recorded), as ``make demo`` runs them; the
throwaway database carries the demo seed's mark, without which demo mode is refused.
Checked on the way: exactly-once linking and zero loss, the non-logging trigger untouched, the
application never failing a transaction, and the rollback to before phase 1 giving back the
catalog the application started with, with no log row lost.
"""

from __future__ import annotations

import subprocess
import sys
import time

import psycopg

import foreign_app
from app_checks import scalar as _scalar
from app_checks import zero_loss as _zero_loss
from catalog_snapshot import diff, snapshot
from dagrun import ROOT, dags_test, dags_test_succeeded

TIER_CONF = {"sensor_window_seconds": 6, "sensor_timeout_minutes": 5}


def test_all_phases_on_a_foreign_application_under_load(airflow_env, fresh_db, tmp_path):
    foreign_app.create(fresh_db, history_rows=3000)
    with psycopg.connect(
        fresh_db
    ) as conn:  # a throwaway database: demo mode (approvals skipped) may run on it
        conn.execute("COMMENT ON SCHEMA auth IS 'activity-migration demo seed v1'")
    config = foreign_app.write_config(tmp_path)
    extra = {"ACTIVITY_MIGRATION_CONFIG": str(config)}
    before = snapshot(fresh_db)
    logs_before = _scalar(fresh_db, "SELECT count(*) FROM public.activity_logs")

    def run(dag_id: str, conf: dict | None = None) -> str:
        proc = dags_test(airflow_env, dag_id, conf, staging_dsn=fresh_db, extra_env=extra)
        log = tmp_path / f"{dag_id}-{len(list(tmp_path.glob(dag_id + '*')))}.log"
        log.write_text(proc.stdout)
        errors = [line for line in proc.stdout.splitlines() if "ERROR" in line or "rror:" in line][:20]
        assert dags_test_succeeded(proc), f"{dag_id} {conf} failed (log {log}):\n" + "\n".join(errors)
        return proc.stdout

    with foreign_app.Load(fresh_db, rate=20) as load:
        time.sleep(1)
        run("migration_p1_infrastructure")
        run("migration_p2_dual_write")
        with psycopg.connect(fresh_db) as conn:
            # the four writer shapes were rewritten; the updated_at trigger's function was not
            rewritten = {
                r[0]
                for r in conn.execute(
                    "SELECT p.pronamespace::regnamespace::text || '.' || p.proname FROM pg_proc p WHERE "
                    "p.prosrc LIKE '%publish_activity_internal(%' "
                    "AND p.pronamespace <> 'activity_migration'::regnamespace AND p.proname NOT LIKE "
                    "'publish_%'"
                )
            }
            assert rewritten == {
                "public.record_activity",
                "billing.log_invoice",
                "billing.log_invoice_lines_inserted",
                "billing.log_invoice_line_change",
                "public.log_comment",
                "public.log_membership",
            }, rewritten
            assert (
                "publish_activity"
                not in conn.execute(
                    "SELECT prosrc FROM pg_proc WHERE oid = 'billing.touch_updated_at()'::regprocedure"
                ).fetchone()[0]
            )
        time.sleep(2)
        with psycopg.connect(fresh_db) as conn:
            cutoff = conn.execute(
                "SELECT value #>> '{cutoff_at}' FROM activity_migration.settings WHERE key = 'cutoff'"
            ).fetchone()[0]
            after = conn.execute(
                "SELECT count(*), count(*) FILTER (WHERE (SELECT count(*) FROM public.events e "
                "WHERE e.legacy_activity_log_id = a.id) <> 1) FROM public.activity_logs a "
                "WHERE a.created_at > %s::timestamptz + interval '1 second'",
                (cutoff,),
            ).fetchone()
        assert after[0] > 0 and after[1] == 0, (
            f"rows after the cutoff: {after[0]}, not linked exactly once: {after[1]}"
        )

        run("migration_p3_read_path")
        run("migration_p4_backfill", {"max_parallel_chunks": 2})
        loss = _zero_loss(fresh_db)
        assert loss["missing"] == 0 and loss["duplicated"] == 0, loss
        assert loss["quarantined"] == foreign_app.QUARANTINED_HISTORY_ROWS, loss
        run("migration_consistency_nightly", {"full_check": True})

        for tier in (1, 2, 3):
            run("migration_p5_trigger_removal", {"tier": tier, **TIER_CONF})
        with psycopg.connect(fresh_db) as conn:
            states = dict(conn.execute("SELECT tier, status FROM activity_migration.tier_state").fetchall())
        assert states == {1: "verified", 2: "verified", 3: "verified"}, states
        with psycopg.connect(fresh_db) as conn:
            left = conn.execute(
                "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgrelid::regclass::text "
                "NOT LIKE 'activity_migration.%'"
            ).fetchall()
        assert [r[0] for r in left] == ["customers_touch"], left  # only the non-logging trigger remains
        assert _zero_loss(fresh_db)["missing"] == 0

        ack = subprocess.run(
            [
                sys.executable,
                "-m",
                "activity_migration.cli",
                "quarantine",
                "--dsn",
                fresh_db,
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
            _scalar(
                fresh_db, "SELECT relkind::text FROM pg_class WHERE oid = 'public.activity_logs'::regclass"
            )
            == "v"
        )  # the compatibility view took the table's place
        time.sleep(2)

        run("migration_rollback", {"to_phase": "before_p1"})
        time.sleep(1)
    report = load.stop()
    assert report.failed == 0, report.errors
    assert report.published > 0  # the app published for tables whose triggers were gone
    assert diff(before, snapshot(fresh_db)) == {}
    logs_after = _scalar(fresh_db, "SELECT count(*) FROM public.activity_logs")
    assert logs_after - logs_before == report.logged_dml, (logs_before, logs_after, report)
