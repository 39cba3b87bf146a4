"""Where the application database is: one rule for the CLI, the DAGs, the demo and the tests.

Order of precedence for a connection id (``activity_db``, ``activity_db_staging``, ...):

1. the environment variable Airflow itself reads, ``AIRFLOW_CONN_<ID>`` (URI or JSON);
2. the entry in ``airflow_settings.yaml`` (the Astronomer file, honoured by our local
   commands too).

An entry whose ``conn_extra`` has ``embedded: true`` points at the project's private
Postgres: resolving it starts that server (and creates the database) when needed. That is
how "no connection configured" becomes "use the embedded demo database".
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlparse

import yaml

from .db import PROJECT_ROOT
from .errors import ConfigError

SETTINGS_FILE = Path(os.environ.get("ACTIVITY_MIGRATION_SETTINGS", PROJECT_ROOT / "airflow_settings.yaml"))

PRODUCTION_CONN_ID = "activity_db"
STAGING_CONN_ID = "activity_db_staging"
ENVIRONMENT_CONN_IDS = {"production": PRODUCTION_CONN_ID, "staging": STAGING_CONN_ID}


@dataclass(frozen=True)
class ConnectionSpec:
    conn_id: str
    conn_type: str
    host: str | None = None
    port: int | None = None
    login: str | None = None
    password: str | None = None
    schema: str | None = None  # Airflow's name for the database
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def embedded(self) -> bool:
        return str(self.extra.get("embedded", "")).lower() in ("1", "true", "yes")

    def uri(self) -> str:
        """Airflow-style URI (``AIRFLOW_CONN_X`` value), with extras as query parameters."""
        scheme = {"postgres": "postgresql"}.get(self.conn_type, self.conn_type)
        auth = ""
        if self.login:
            auth = quote(self.login, safe="")
            if self.password:
                auth += ":" + quote(self.password, safe="")
            auth += "@"
        hostport = (self.host or "") + (f":{self.port}" if self.port else "")
        path = "/" + quote(self.schema, safe="") if self.schema else ""
        query = "&".join(f"{quote(str(k))}={quote(str(v))}" for k, v in self.extra.items())
        return f"{scheme}://{auth}{hostport}{path}" + (f"?{query}" if query else "")

    def libpq_dsn(self) -> str:
        """DSN for psycopg: Airflow-only extras (``embedded``) dropped, libpq ones kept."""
        keep = {
            k: v
            for k, v in self.extra.items()
            if k in ("sslmode", "sslrootcert", "options", "target_session_attrs")
        }
        base = ConnectionSpec(
            self.conn_id, "postgres", self.host, self.port, self.login, self.password, self.schema, keep
        )
        return base.uri()


def dsn_to_uri(dsn: str, scheme: str = "postgresql") -> str:
    """A libpq DSN (keyword or URI form) as ``scheme://user[:password]@host:port/dbname``: the form
    an ``AIRFLOW_CONN_*`` variable takes (scheme postgresql) or a SQLAlchemy URL (e.g.
    postgresql+psycopg2). User, password and database name are percent-quoted."""
    import psycopg

    d = psycopg.conninfo.conninfo_to_dict(dsn)
    auth = quote(str(d.get("user", "postgres")), safe="")
    if d.get("password"):
        auth += ":" + quote(str(d["password"]), safe="")
    host, port, dbname = d.get("host", "127.0.0.1"), d.get("port", 5432), quote(str(d["dbname"]), safe="")
    return f"{scheme}://{auth}@{host}:{port}/{dbname}"


def _from_uri(conn_id: str, uri: str) -> ConnectionSpec:
    parsed = urlparse(uri)
    conn_type = {"postgresql": "postgres", "postgres": "postgres"}.get(parsed.scheme, parsed.scheme)
    extra = dict(parse_qsl(parsed.query))
    if "__extra__" in extra:
        extra = json.loads(extra["__extra__"])
    return ConnectionSpec(
        conn_id,
        conn_type,
        parsed.hostname,
        parsed.port,
        unquote(parsed.username or "") or None,
        unquote(parsed.password or "") or None,
        unquote(parsed.path.lstrip("/")) or None,
        extra,
    )


def _from_json(conn_id: str, text: str) -> ConnectionSpec:
    data = json.loads(text)
    extra = data.get("extra") or {}
    if isinstance(extra, str):
        extra = json.loads(extra) if extra.strip() else {}
    return ConnectionSpec(
        conn_id,
        data.get("conn_type", "postgres"),
        data.get("host"),
        data.get("port"),
        data.get("login"),
        data.get("password"),
        data.get("schema"),
        extra,
    )


def load_settings(path: Path = SETTINGS_FILE) -> dict[str, Any]:
    if not path.exists():
        return {}
    with open(path) as fh:
        return (yaml.safe_load(fh) or {}).get("airflow", {}) or {}


def settings_connections(path: Path = SETTINGS_FILE) -> dict[str, ConnectionSpec]:
    out = {}
    for entry in load_settings(path).get("connections", []) or []:
        extra = entry.get("conn_extra") or {}
        if isinstance(extra, str):
            extra = json.loads(extra) if extra.strip() else {}
        out[entry["conn_id"]] = ConnectionSpec(
            entry["conn_id"],
            entry.get("conn_type", "postgres"),
            entry.get("conn_host"),
            int(entry["conn_port"]) if entry.get("conn_port") else None,
            entry.get("conn_login"),
            entry.get("conn_password"),
            entry.get("conn_schema"),
            extra,
        )
    return out


def settings_variables(path: Path = SETTINGS_FILE) -> dict[str, str]:
    return {
        v["variable_name"]: str(v.get("variable_value", ""))
        for v in load_settings(path).get("variables", []) or []
    }


def settings_pools(path: Path = SETTINGS_FILE) -> list[dict[str, Any]]:
    return list(load_settings(path).get("pools", []) or [])


def env_var_name(conn_id: str) -> str:
    return "AIRFLOW_CONN_" + conn_id.upper()


def connection_spec(conn_id: str) -> ConnectionSpec:
    """The connection ``conn_id`` from the environment, else from airflow_settings.yaml."""
    value = os.environ.get(env_var_name(conn_id))
    if value:
        value = value.strip()
        return _from_json(conn_id, value) if value.startswith("{") else _from_uri(conn_id, value)
    spec = settings_connections().get(conn_id)
    if spec is None:
        raise ConfigError(
            f"connection {conn_id!r} is not configured: set {env_var_name(conn_id)} "
            f"or add it to {SETTINGS_FILE.name}"
        )
    return spec


DEFAULT_EMBEDDED_PORT = 55432


def embedded_server(spec: ConnectionSpec) -> Any:
    """The project's private Postgres an ``embedded`` entry points at (not started)."""
    from .embedded import EmbeddedPostgres

    return EmbeddedPostgres(port=spec.port or DEFAULT_EMBEDDED_PORT)


def dsn_of(spec: ConnectionSpec, *, start_embedded: bool = True) -> str:
    """A libpq DSN for a connection; an ``embedded`` entry starts that server (and creates the
    database) first. The one place a connection becomes a DSN: CLI, DAG tasks, status page."""
    if spec.conn_type not in ("postgres", "postgresql"):
        raise ConfigError(
            f"connection {spec.conn_id!r} has conn_type {spec.conn_type!r}; a postgres connection is required"
        )
    if spec.embedded and os.environ.get("ACTIVITY_MIGRATION_CLUSTER"):  # docs/scaling.md: cluster mode
        raise ConfigError(
            f"connection {spec.conn_id!r} points at the embedded Postgres, which lives on one machine "
            "and cannot serve a cluster (every worker would start its own): set "
            f"{env_var_name(spec.conn_id)} (or the Airflow connection) to a real Postgres server"
        )
    if spec.embedded and start_embedded:
        server = embedded_server(spec)
        server.start()
        return server.ensure_database(spec.schema or "postgres")
    return spec.libpq_dsn()


def resolve_dsn(conn_id: str = PRODUCTION_CONN_ID, *, start_embedded: bool = True) -> str:
    """A libpq DSN for ``conn_id`` (environment variable, else airflow_settings.yaml): :func:`dsn_of`."""
    return dsn_of(connection_spec(conn_id), start_embedded=start_embedded)


def dsn_for_environment(environment: str) -> str:
    try:
        return resolve_dsn(ENVIRONMENT_CONN_IDS[environment])
    except KeyError:
        raise ConfigError(
            f"environment must be one of {sorted(ENVIRONMENT_CONN_IDS)}, got {environment!r}"
        ) from None
