"""From an Airflow task context to the core's inputs: DSN, RunContext, config.

Connection lookup goes through Airflow (so connections from the metadata DB, env vars or
a secrets backend all work); an entry marked ``embedded`` starts the project's private
Postgres, as the CLI does. Secrets never reach the logs: DSNs are only logged redacted.
"""
from __future__ import annotations

from typing import Any

from activity_migration.connections import ENVIRONMENT_CONN_IDS, ConnectionSpec, resolve_dsn
from activity_migration.errors import ConfigError
from activity_migration.ledger import RunContext


def conn_id_for(environment: str) -> str:
    try:
        return ENVIRONMENT_CONN_IDS[environment]
    except KeyError:
        raise ConfigError(f"environment must be one of {sorted(ENVIRONMENT_CONN_IDS)}, got {environment!r}") from None


def dsn_for_conn_id(conn_id: str) -> str:
    """libpq DSN of an Airflow connection (Airflow's lookup first, then airflow_settings.yaml)."""
    try:
        from airflow.sdk import Connection

        conn = Connection.get(conn_id)
    except Exception:  # not found in Airflow (e.g. outside a task): the core's own lookup
        return resolve_dsn(conn_id)
    spec = ConnectionSpec(conn_id, conn.conn_type or "postgres", conn.host, conn.port, conn.login, conn.password,
                          conn.schema, dict(conn.extra_dejson or {}))
    if spec.embedded:
        from activity_migration.embedded import EmbeddedPostgres

        server = EmbeddedPostgres(port=spec.port or 55432)
        server.start()
        return server.ensure_database(spec.schema or "postgres")
    return spec.libpq_dsn()


def params_of(context: dict[str, Any]) -> dict[str, Any]:
    return dict(context.get("params") or {})


def dsn_from_context(context: dict[str, Any]) -> str:
    return dsn_for_conn_id(conn_id_for(params_of(context).get("environment", "staging")))


def run_context(context: dict[str, Any], actor: str | None = None) -> RunContext:
    params = params_of(context)
    dag_run = context.get("dag_run")
    return RunContext(environment=params.get("environment", "staging"), mode=params.get("mode", "normal"),
                      dag_run_id=getattr(dag_run, "run_id", None), actor=actor)
