"""Pieces the phase modules share: ledgered steps, names of our objects, small catalog reads."""

from __future__ import annotations

import functools
import time
from typing import Any

import psycopg
from psycopg import sql

from .. import ledger
from ..config import MigrationConfig
from ..db import compose_sql, connection, fetch_one, load_sql, scalar, sql_path
from ..ledger import RunContext, ledgered  # noqa: F401 - the phases import it from here

# The header shared by publish_activity (the API) and its internal writer: one SQL
# file, filled into every function that uses it and read here for the signature.
PUBLISH_HEADER_SQL = "common/publish_function_header.sql"
# How pg_catalog prints the types the parameter file spells short.
_CATALOG_TYPE = {"timestamptz": "timestamp with time zone", "int": "integer", "bool": "boolean"}
API_PUBLISH = "publish_activity"  # in the target schema: what the application calls
INTERNAL_PUBLISH = "publish_activity_internal"  # in the state schema: the one writer, no API role may run it
HELPER_SIGNATURES = {
    "publish_auth_event": "text, uuid, inet, text, boolean",
    "publish_batch_operation": "text, integer, uuid, jsonb, uuid",
    "publish_entity_change": "text, text, text, jsonb, jsonb, uuid, uuid",
    "refresh_event_analytics": "",
}
DAILY_VIEW = "event_daily_counts"
ACTOR_VIEW = "event_actor_activity"
DUAL_WRITE_MARKER = "activity-migration p2_dual_write: publish_activity (dual write)"


@functools.lru_cache(maxsize=1)
def _parameter_lines() -> tuple[str, ...]:
    text = sql_path(PUBLISH_HEADER_SQL).read_text()
    return tuple(line.rstrip() for line in text.splitlines() if line.startswith("    p_"))


def publish_header(function: sql.Identifier) -> sql.Composed:
    """``CREATE OR REPLACE FUNCTION <function>(<the parameters>) RETURNS uuid …``: the
    ``{publish_header}`` placeholder of the three function files."""
    return load_sql(PUBLISH_HEADER_SQL, function=function)


def publish_body_parts(state: str) -> dict[str, sql.Composed]:
    """The PL/pgSQL pieces the internal writer's two forms share (common/publish_declare_inputs.sql,
    common/publish_check_source.sql, common/publish_raise_rejected.sql): the ``declare_inputs``,
    ``check_source`` and ``raise_rejected`` placeholders of p1_infrastructure/04 and
    p2_dual_write/01, with ``state`` the state schema. Their header comments stay out of the
    function body."""
    return {
        name: _body_fragment(f"common/publish_{name}.sql", state=state)
        for name in ("declare_inputs", "check_source", "raise_rejected")
    }


def _body_fragment(relative: str, **identifiers: Any) -> sql.Composed:
    lines = sql_path(relative).read_text().splitlines()
    return compose_sql("\n".join(line for line in lines if not line.startswith("--")), **identifiers)


@functools.lru_cache(maxsize=1)
def _publish_args() -> str:
    types = []
    for line in _parameter_lines():
        typ = line.strip().rstrip(",").split()[1]
        types.append(_CATALOG_TYPE.get(typ, typ))
    return ", ".join(types)


PUBLISH_ARGS = _publish_args()


def events_ident(cfg: MigrationConfig) -> sql.Identifier:
    return sql.Identifier(cfg.target_schema, cfg.target_table)


def publish_identity(cfg: MigrationConfig) -> str:
    """regprocedure text of the internal writer, as the catalog prints it: the function whose
    body the phases swap (events only, dual write) and back up."""
    return f"{_q(cfg.state_schema)}.{INTERNAL_PUBLISH}({PUBLISH_ARGS})"


def api_publish_identity(cfg: MigrationConfig) -> str:
    """regprocedure text of publish_activity, the API the application calls."""
    return f"{_q(cfg.target_schema)}.{API_PUBLISH}({PUBLISH_ARGS})"


def internal_publish_name(cfg: MigrationConfig) -> str:
    """The internal writer's qualified name as SQL text (what rewritten triggers call)."""
    return f"{_q(cfg.state_schema)}.{INTERNAL_PUBLISH}"


def _q(name: str) -> str:
    from ..sqltext import quote_ident

    return quote_ident(name)


def regprocedure_exists(conn: psycopg.Connection, identity: str) -> bool:
    return scalar(conn, "SELECT to_regprocedure(%s) IS NOT NULL", (identity,)) is True


def function_def(conn: psycopg.Connection, identity: str) -> str | None:
    row = fetch_one(
        conn,
        "SELECT pg_get_functiondef(to_regprocedure(%s)) AS d WHERE to_regprocedure(%s) IS NOT NULL",
        (identity, identity),
    )
    return row["d"] if row else None


def relation_kind(conn: psycopg.Connection, schema: str, name: str) -> str | None:
    """pg_class.relkind of ``schema.name`` ('r' table, 'v' view, ...) or None."""
    return scalar(conn, load_sql("p1_infrastructure/15_select_relation_kind.sql"), (schema, name))


def table_exists(conn: psycopg.Connection, schema: str, table: str) -> bool:
    return (
        scalar(conn, "SELECT to_regclass(format('%%I.%%I', %s::text, %s::text)) IS NOT NULL", (schema, table))
        is True
    )


def dual_write_enabled(conn: psycopg.Connection, cfg: MigrationConfig) -> bool:
    """True when phase 2 is on: by the setting, or by publish_activity's body in the catalog."""
    setting = ledger.get_setting(conn, "dual_write", {}, cfg=cfg) or {}
    if setting.get("enabled"):
        return True
    d = function_def(conn, publish_identity(cfg))
    return bool(d and DUAL_WRITE_MARKER in d)


# Transactions open in this database now, other than ours: (pid, virtual transaction id), from
# pg_locks (why pg_locks and not pg_stat_activity: the file's header).
_OPEN_TRANSACTIONS = "p2_dual_write/02_select_open_transactions.sql"


def wait_for_older_transactions(dsn: str, timeout_s: float = 30.0, *, poll_s: float = 0.1) -> bool:
    """Wait until every transaction open in this database when called has ended (True), or the
    timeout (False).

    The drain that makes a swap of function bodies safe for writers in flight. PostgreSQL gives a
    session no consistent view of function definitions across one statement: ``CREATE OR REPLACE
    FUNCTION`` takes no lock that callers wait for, and a running session picks up the committed
    change at its next invalidation point (any lock it newly takes, e.g. a trigger function's
    lookup of another table) — so a trigger may run the body it started with and then call the
    NEW body of a function it calls. Every transaction that starts after the swap committed sees
    all of it (the invalidations are processed at transaction start). So: commit the swap, call
    this (it snapshots the open transactions after the commit), and only then rely on "nobody
    runs the old bodies any more". Works for any role (pg_locks; see _OPEN_TRANSACTIONS).
    """
    open_transactions = load_sql(_OPEN_TRANSACTIONS)
    with connection(dsn, autocommit=True) as conn:
        pending = {(r[0], r[1]) for r in conn.execute(open_transactions).fetchall()}
        deadline = time.monotonic() + timeout_s
        while pending:
            if time.monotonic() >= deadline:
                return False
            time.sleep(poll_s)
            pending &= {(r[0], r[1]) for r in conn.execute(open_transactions).fetchall()}
    return True
