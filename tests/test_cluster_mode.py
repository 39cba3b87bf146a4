"""Cluster mode (scripts/airflow_cluster.py, docs/scaling.md): what cannot move is refused, clearly."""

from __future__ import annotations

import pytest

from activity_migration.connections import ConnectionSpec, dsn_of
from activity_migration.errors import ConfigError
from migration_airflow.cluster_host import hostname

EMBEDDED = ConnectionSpec(
    "activity_db_staging",
    "postgres",
    "127.0.0.1",
    55432,
    "postgres",
    None,
    "activity_app_staging",
    {"embedded": "true"},
)


def test_embedded_connection_is_refused_in_cluster_mode(monkeypatch):
    monkeypatch.setenv("ACTIVITY_MIGRATION_CLUSTER", "1")
    with pytest.raises(ConfigError, match="embedded Postgres.*AIRFLOW_CONN_ACTIVITY_DB_STAGING"):
        dsn_of(EMBEDDED, start_embedded=False)
    real = ConnectionSpec("activity_db_staging", "postgres", "db.internal", 5432, "migrator", None, "app", {})
    assert dsn_of(real) == "postgresql://migrator@db.internal:5432/app"


def test_embedded_connection_still_works_outside_cluster_mode(monkeypatch):
    monkeypatch.delenv("ACTIVITY_MIGRATION_CLUSTER", raising=False)
    assert dsn_of(EMBEDDED, start_embedded=False).startswith("postgresql://postgres@127.0.0.1:55432/")


def test_worker_hostname_callable(monkeypatch):
    monkeypatch.setenv("MIGRATION_WORKER_HOSTNAME", "worker2")
    assert hostname() == "worker2"
    monkeypatch.delenv("MIGRATION_WORKER_HOSTNAME")
    assert hostname()
