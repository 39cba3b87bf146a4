"""Connection lookup: environment first, then airflow_settings.yaml; secrets never logged."""

from __future__ import annotations

import json

import pytest

from activity_migration.connections import (
    connection_spec,
    dsn_for_environment,
    resolve_dsn,
    settings_pools,
    settings_variables,
)
from activity_migration.db import connect, redact
from activity_migration.errors import ConfigError, MigrationError


def test_settings_file_declares_connections_pool_and_alert_variable():
    spec = connection_spec("activity_db")
    assert spec.embedded and spec.schema == "activity_app"
    assert connection_spec("activity_db_staging").schema == "activity_app_staging"
    assert connection_spec("smtp_default").conn_type == "smtp"
    assert "migration_alert_emails" in settings_variables()
    assert any(p["pool_name"] == "activity_db" for p in settings_pools())


def test_environment_variable_takes_precedence(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_ACTIVITY_DB", "postgresql://app:s3cr%40t@db.example:6543/prod?sslmode=require"
    )
    spec = connection_spec("activity_db")
    assert (spec.host, spec.port, spec.login, spec.password, spec.schema) == (
        "db.example",
        6543,
        "app",
        "s3cr@t",
        "prod",
    )
    assert resolve_dsn("activity_db") == "postgresql://app:s3cr%40t@db.example:6543/prod?sslmode=require"


def test_json_form_is_accepted(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_ACTIVITY_DB_STAGING",
        json.dumps({"conn_type": "postgres", "host": "h", "port": 5433, "login": "u", "schema": "stg"}),
    )
    assert resolve_dsn("activity_db_staging") == "postgresql://u@h:5433/stg"


def test_unknown_connection_and_environment_are_clear_errors():
    with pytest.raises(ConfigError, match="AIRFLOW_CONN_NOPE"):
        resolve_dsn("nope")
    with pytest.raises(ConfigError, match="environment must be one of"):
        dsn_for_environment("prod")


@pytest.mark.parametrize(
    "dsn, secret",
    [
        ("postgresql://u:hunter2@h/db", "hunter2"),
        ("postgresql://:hunter2@h/db", "hunter2"),  # no user name before the password
        ("host=h password='hunter2 with spaces' dbname=db", "with spaces"),  # a quoted value with blanks
        ("host=h password=hun\\ ter2 dbname=db", "ter2"),  # an escaped blank
        ("postgresql://u@h/db?password=hunter2", "hunter2"),  # the password as a URI parameter
        ("postgresql://u:p%40hunter2@h/db?sslpassword=hunter2", "hunter2"),
    ],
)
def test_redaction_hides_every_form_of_password(dsn, secret):
    shown = redact(dsn)
    assert secret not in shown and "***" in shown and "h" in shown


def test_an_unparseable_connection_string_is_not_shown():
    assert "hunter2" not in redact("host=h password='hunter2")  # unterminated quote


def test_passwords_are_redacted_in_connection_errors():
    assert redact("postgresql://u:hunter2@h/db") == "user=u password=*** dbname=db host=h"
    with pytest.raises(MigrationError) as err:
        connect("postgresql://u:hunter2@127.0.0.1:1/db", connect_timeout=2)
    assert "hunter2" not in str(err.value) and "cannot connect" in str(err.value)


def test_dsn_to_uri_quotes_what_a_uri_cannot_carry_and_round_trips():
    import psycopg

    from activity_migration.connections import dsn_to_uri

    dsn = "host=db.example port=6543 user=migrator password='p@ss:w/rd' dbname=app"
    uri = dsn_to_uri(dsn)
    assert uri == "postgresql://migrator:p%40ss%3Aw%2Frd@db.example:6543/app"
    assert psycopg.conninfo.conninfo_to_dict(uri) == psycopg.conninfo.conninfo_to_dict(dsn)
    assert dsn_to_uri(dsn, "postgresql+psycopg2").startswith("postgresql+psycopg2://migrator:")
