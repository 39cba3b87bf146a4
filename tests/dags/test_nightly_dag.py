"""migration_consistency_nightly under `airflow dags test` (subprocess): mail on failure, none on success."""

from __future__ import annotations

# tests/ is on the test path (pyproject's pytest pythonpath): the DAG-run and validation helpers.
from dagrun import dags_test, dags_test_succeeded
from validation.helpers import create_source, execute, migrated_db

DAG_ID = "migration_consistency_nightly"
# Normal mode, as when scheduled (the nightly has no approval to wait for).
CONF = {"environment": "staging", "mode": "normal"}


def _dags_test(env: dict, dsn: str, smtp_sink):
    host, port, _ = smtp_sink
    return dags_test(
        env,
        DAG_ID,
        CONF,
        staging_dsn=dsn,
        extra_env={
            "AIRFLOW_CONN_SMTP_DEFAULT": f"smtp://{host}:{port}?disable_ssl=true&disable_tls=true&from_email=am@localhost",
            "AIRFLOW_VAR_MIGRATION_ALERT_EMAILS": "ops@example.com",
        },
    )


def _results(dsn: str) -> list[tuple]:
    return execute(dsn, "SELECT suite, scope, success FROM activity_migration.validation_results ORDER BY id")


def test_nightly_passes_silently_then_mails_on_failure(airflow_env, fresh_db, smtp_sink):
    dsn = migrated_db(fresh_db, rows=800)
    messages = smtp_sink[2]

    ok = _dags_test(airflow_env, dsn, smtp_sink)
    assert dags_test_succeeded(ok), ok.stdout[-6000:]
    # first nightly: no earlier pass, so the incremental run checks everything; all suites pass
    assert sorted(_results(dsn)) == sorted(
        [(s, "full", True) for s in ("events_integrity", "parity", "quarantine")]
    )
    assert messages == []

    execute(
        dsn,
        "INSERT INTO public.events (event_type, category, entity_type, source, legacy_activity_log_id, "
        "occurred_at) VALUES ('payment.created', 'financial', 'payment', 'backfill', gen_random_uuid(), "
        "now())",
    )
    bad = _dags_test(airflow_env, dsn, smtp_sink)
    out = bad.stdout
    parity = [r for r in _results(dsn) if r[0] == "parity"]
    # a small table (800 rows): the nightly's incremental scope checks every row
    assert parity[-1] == ("parity", "full", False), out[-3000:]
    assert "consistency check failed" in out
    assert len(messages) == 1, out[-3000:]
    msg = messages[0]["message"]
    assert messages[0]["to"] == ["ops@example.com"]
    assert (
        "[staging]" in msg["Subject"]
        and "parity" in msg["Subject"]
        and "4 failed expectations" in msg["Subject"]
    )
    # orphan + the whole-table, per entity type and per day counts (every row checked)
    html = msg.get_body(("html",)).get_content()
    assert "No event claims a legacy id that does not exist" in html and "Data Docs" in html
    assert "Validation FAILED: parity</h2>" in html  # the heading names only the failed suite


def test_nightly_failure_stays_visible_when_the_mail_cannot_be_sent(airflow_env, fresh_db):
    dsn = migrated_db(fresh_db, rows=200)
    execute(
        dsn,
        "INSERT INTO public.events (event_type, category, entity_type, source, legacy_activity_log_id, "
        "occurred_at) VALUES ('payment.created', 'financial', 'payment', 'backfill', gen_random_uuid(), "
        "now())",
    )
    run = dags_test(
        airflow_env,
        DAG_ID,
        CONF,
        staging_dsn=dsn,
        extra_env={  # nothing listens on port 1
            "AIRFLOW_CONN_SMTP_DEFAULT": "smtp://127.0.0.1:1?disable_ssl=true&disable_tls=true&from_email=am@localhost",
            "AIRFLOW_VAR_MIGRATION_ALERT_EMAILS": "ops@example.com",
        },
    )
    out = run.stdout
    assert "consistency check failed" in out and "alert mail NOT sent (ConnectionRefusedError" in out, out[
        -3000:
    ]
    assert "the alert mail about the failed validation could NOT be sent" in out


def test_a_crash_of_the_nightly_check_sends_an_alert_naming_the_error(airflow_env, fresh_db, smtp_sink):
    dsn = migrated_db(fresh_db, rows=200)
    execute(dsn, "ALTER TABLE activity_migration.validation_results RENAME TO validation_results_gone")
    run = _dags_test(airflow_env, dsn, smtp_sink)
    assert run.dag_run_state == "failed"
    messages = smtp_sink[2]
    assert len(messages) == 1, run.stdout[-3000:]
    msg = messages[0]["message"]
    assert "CRASHED" in msg["Subject"] and "[staging]" in msg["Subject"]
    assert "validation_results" in msg.get_body(("html",)).get_content()


def test_nightly_skips_when_events_does_not_exist(airflow_env, fresh_db, smtp_sink):
    create_source(fresh_db, rows=10)
    run = _dags_test(airflow_env, fresh_db, smtp_sink)
    out = run.stdout
    assert dags_test_succeeded(run), out[-3000:]
    assert "skipping the consistency check" in out
    assert smtp_sink[2] == []
