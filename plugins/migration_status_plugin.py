"""Airflow plugin: the migration status page in the Airflow UI.

Airflow 3 mounts ``fastapi_apps`` in its API server and lists ``external_views`` in the UI's
navigation; an external view with a ``url_route`` is shown inside the UI (an iframe at
``/plugin/migration-status``). The page itself is :mod:`migration_airflow.status_page`; this
file only wires in the Airflow-aware pieces:

- login: every route requires an authenticated Airflow user (the UI's session cookie, or a
  ``Bearer`` token from ``POST /auth/token``);
- connection lookup through Airflow (env vars, secrets backend, metadata DB), so the page
  reads the same ``activity_db`` / ``activity_db_staging`` the DAGs use;
- pending approvals of migration DAGs, from Airflow's metadata (the only Airflow fact shown).
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

URL_PREFIX = "/migration-status"


def _airflow_dsn(environment: str) -> str:
    from activity_migration.connections import ENVIRONMENT_CONN_IDS, ConnectionSpec, connection_spec, dsn_of

    conn_id = ENVIRONMENT_CONN_IDS[environment]
    try:
        from airflow.models.connection import Connection

        c = Connection.get_connection_from_secrets(conn_id)
        spec = ConnectionSpec(
            conn_id,
            c.conn_type or "postgres",
            c.host,
            c.port,
            c.login,
            c.password,
            c.schema,
            dict(c.extra_dejson or {}),
        )
    except Exception:  # not known to Airflow: the project's own lookup (airflow_settings.yaml)
        spec = connection_spec(conn_id)
    # A page that reads must not start a database server: an embedded Postgres that is not
    # running shows as unreachable (make airflow / make demo start it).
    return dsn_of(spec, start_embedded=False)


def _build_app():
    from airflow.api_fastapi.core_api.security import requires_authenticated
    from fastapi import Depends

    from migration_airflow.status_page import airflow_pending_approvals, create_app

    return create_app(
        dsn_resolver=_airflow_dsn,
        pending_approvals=airflow_pending_approvals,
        dependencies=[Depends(requires_authenticated())],
    )


class MigrationStatusPlugin(AirflowPlugin):
    name = "migration_status"
    fastapi_apps = [{"app": _build_app(), "url_prefix": URL_PREFIX, "name": "Migration status"}]
    external_views = [
        {
            "name": "Migration status",
            "href": URL_PREFIX + "/",
            "destination": "nav",
            "url_route": "migration-status",
        }
    ]
