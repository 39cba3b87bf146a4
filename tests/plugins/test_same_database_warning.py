"""A production run logs a WARNING when staging and production resolve to one database."""

from __future__ import annotations

from dagrun import conn_uri
from migration_airflow.runtime import warn_if_same_database


def test_production_run_warns_when_both_connections_are_one_database(fresh_db, monkeypatch, capsys, caplog):
    monkeypatch.setenv("AIRFLOW_CONN_ACTIVITY_DB", conn_uri(fresh_db))
    monkeypatch.setenv("AIRFLOW_CONN_ACTIVITY_DB_STAGING", conn_uri(fresh_db))
    assert warn_if_same_database({"params": {"environment": "production", "mode": "normal"}}) is True
    out = capsys.readouterr()
    # stdlib logging, or structlog to stdout once Airflow configured logging (as under a worker)
    assert "staging and production resolve to the same database" in out.out + out.err + caplog.text
    assert warn_if_same_database({"params": {"environment": "staging", "mode": "normal"}}) is False


def test_no_warning_for_two_databases(fresh_db, pg_admin_dsn, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_ACTIVITY_DB", conn_uri(fresh_db))
    monkeypatch.setenv("AIRFLOW_CONN_ACTIVITY_DB_STAGING", conn_uri(pg_admin_dsn))
    assert warn_if_same_database({"params": {"environment": "production", "mode": "normal"}}) is False
