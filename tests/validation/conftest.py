"""Fixtures for the validation tests: a migrated database and Airflow's mail settings."""

from __future__ import annotations

import pytest

from .helpers import migrated_db


@pytest.fixture
def migrated(fresh_db):
    """A fresh database with 1,200 source rows copied into events by the shared mapping rules."""
    return migrated_db(fresh_db, rows=1200)


@pytest.fixture
def airflow_mail(smtp_sink, monkeypatch):
    """Point Airflow's smtp_default and the alert Variable at the loopback sink; yields the messages list."""
    host, port, messages = smtp_sink
    monkeypatch.setenv(
        "AIRFLOW_CONN_SMTP_DEFAULT",
        f"smtp://{host}:{port}?disable_ssl=true&disable_tls=true&from_email=am@localhost",
    )
    monkeypatch.setenv("AIRFLOW_VAR_MIGRATION_ALERT_EMAILS", "ops@example.com")
    return messages
