"""migration_consistency_nightly under `airflow dags test` (subprocess): mail on failure, none on success."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import sys

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))  # the validation test helpers (tests/ is not a package)
from validation.helpers import create_source, execute, migrated_db  # noqa: E402
AIRFLOW = str(ROOT / ".venv" / "bin" / "airflow") if (ROOT / ".venv" / "bin" / "airflow").exists() else "airflow"
DAG_ID = "migration_consistency_nightly"


def _uri(dsn: str) -> str:
    p = psycopg.conninfo.conninfo_to_dict(dsn)
    return f"postgresql://{p.get('user', 'postgres')}@{p.get('host', '127.0.0.1')}:{p.get('port', 5432)}/{p['dbname']}"


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow_home_nightly")
    env = dict(os.environ)
    env.update({"AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
                "AIRFLOW__CORE__UNIT_TEST_MODE": "False"})
    out = subprocess.run([AIRFLOW, "db", "migrate"], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return env


def _dags_test(env: dict, conf: dict) -> subprocess.CompletedProcess:
    return subprocess.run([AIRFLOW, "dags", "test", DAG_ID, "-c", json.dumps(conf)], env=env, capture_output=True,
                          text=True, timeout=600, cwd=ROOT)


def _env(base: dict, dsn: str, smtp_sink, tmp_path) -> dict:
    host, port, _ = smtp_sink
    return dict(base, AIRFLOW_CONN_ACTIVITY_DB_STAGING=_uri(dsn),
                AIRFLOW_CONN_SMTP_DEFAULT=f"smtp://{host}:{port}?disable_ssl=true&disable_tls=true&from_email=am@localhost",
                AIRFLOW_VAR_MIGRATION_ALERT_EMAILS="ops@example.com")


def _results(dsn: str) -> list[tuple]:
    return execute(dsn, "SELECT suite, scope, success FROM activity_migration.validation_results ORDER BY id")


def test_nightly_passes_silently_then_mails_on_failure(airflow_home, fresh_db, smtp_sink, tmp_path):
    dsn = migrated_db(fresh_db, rows=800)
    env = _env(airflow_home, dsn, smtp_sink, tmp_path)
    messages = smtp_sink[2]

    ok = _dags_test(env, {"environment": "staging"})
    assert ok.returncode == 0, ok.stdout[-3000:] + ok.stderr[-3000:]
    # first nightly: no earlier pass, so the incremental run checks everything; all suites pass
    assert sorted(_results(dsn)) == sorted([(s, "full", True) for s in ("events_integrity", "parity", "quarantine")])
    assert messages == []

    execute(dsn, "INSERT INTO public.events (event_type, category, entity_type, source, legacy_activity_log_id, "
                 "occurred_at) VALUES ('payment.created', 'financial', 'payment', 'backfill', gen_random_uuid(), now())")
    bad = _dags_test(env, {"environment": "staging"})
    out = bad.stdout + bad.stderr
    parity = [r for r in _results(dsn) if r[0] == "parity"]
    assert parity[-1] == ("parity", "incremental", False), out[-3000:]
    assert "consistency check failed" in out
    assert len(messages) == 1, out[-3000:]
    msg = messages[0]["message"]
    assert messages[0]["to"] == ["ops@example.com"]
    assert "[staging]" in msg["Subject"] and "parity" in msg["Subject"] and "2 failed expectations" in msg["Subject"]  # orphan + whole-table count
    html = msg.get_body(("html",)).get_content()
    assert "No event claims a legacy id that does not exist" in html and "Data Docs" in html


def test_nightly_skips_when_events_does_not_exist(airflow_home, fresh_db, smtp_sink, tmp_path):
    create_source(fresh_db, rows=10)
    env = _env(airflow_home, fresh_db, smtp_sink, tmp_path)
    run = _dags_test(env, {"environment": "staging"})
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-3000:]
    assert "skipping the consistency check" in out
    assert smtp_sink[2] == []
