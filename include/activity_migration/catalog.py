"""Read the catalog: which triggers log activity, and object definitions as Postgres prints them.

"Logging trigger" is discovered, never listed: a non-internal trigger whose function writes
the source table (``activity_logs``), calls the internal writer ``publish_activity_internal``
(after phase 2 rewrote it) or ``publish_activity``,
or calls, directly or through other functions, a function that does. Triggers that do
neither (an ``updated_at`` trigger) are never logging triggers and are never touched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any

import psycopg

from .config import MigrationConfig, load_config
from .db import fetch_all, load_sql, scalar
from .errors import PreflightError

_TRIGGERS_SQL = load_sql("catalog/01_select_user_triggers.sql")
_FUNCTIONS_SQL = load_sql("catalog/02_select_user_functions.sql")


@dataclass(frozen=True)
class LoggingTrigger:
    schema_name: str
    table_name: str
    trigger_name: str
    function_schema: str
    function_name: str
    function_identity: str
    trigger_def: str
    enabled: str
    row_level: bool

    @property
    def table(self) -> str:
        return f"{self.schema_name}.{self.table_name}"

    @property
    def identity(self) -> str:
        return f"{self.schema_name}.{self.table_name}.{self.trigger_name}"


def logging_function_oids(conn: psycopg.Connection, cfg: MigrationConfig | None = None) -> set[int]:
    """Oids of functions that write the source table or publish events, transitively."""
    cfg = cfg or load_config()
    funcs = fetch_all(conn, _FUNCTIONS_SQL)
    source = re.compile(r"\b" + re.escape(cfg.source.table) + r"\b", re.IGNORECASE)
    ours = {cfg.state_schema}
    writers = {
        f["function_oid"]
        for f in funcs
        if f["function_schema"] not in ours
        and f["prosrc"]
        and (
            source.search(f["prosrc"])
            or re.search(r"\bpublish_activity(?:_internal)?\s*\(", f["prosrc"], re.IGNORECASE)
        )
        and f["function_name"] != "publish_activity"
    }
    # Transitive closure: a function calling a writer logs too (e.g. a shared log_activity()).
    names = {f["function_oid"]: f["function_name"] for f in funcs}
    changed = True
    while changed:
        changed = False
        callee_names = {names[o] for o in writers}
        pattern = (
            re.compile(
                r"\b(" + "|".join(re.escape(n) for n in sorted(callee_names)) + r")\s*\(", re.IGNORECASE
            )
            if callee_names
            else None
        )
        for f in funcs:
            if (
                f["function_oid"] in writers
                or f["function_schema"] in ours
                or not f["prosrc"]
                or pattern is None
            ):
                continue
            if f["function_name"] == "publish_activity":
                continue
            if pattern.search(f["prosrc"]):
                writers.add(f["function_oid"])
                changed = True
    return writers


def logging_triggers(conn: psycopg.Connection, cfg: MigrationConfig | None = None) -> list[LoggingTrigger]:
    """Every trigger whose function logs activity, except triggers on the source/target tables."""
    cfg = cfg or load_config()
    writers = logging_function_oids(conn, cfg)
    excluded_tables = {cfg.source_table, cfg.target}
    out = []
    for row in fetch_all(conn, _TRIGGERS_SQL):
        if row["function_oid"] not in writers:
            continue
        if (
            f"{row['schema_name']}.{row['table_name']}" in excluded_tables
            or row["schema_name"] == cfg.state_schema
        ):
            continue
        out.append(LoggingTrigger(**{f.name: row[f.name] for f in fields(LoggingTrigger)}))
    return out


def all_triggers(conn: psycopg.Connection) -> list[dict]:
    """Every user trigger with its definition (for catalog comparisons in tests and rollbacks)."""
    return fetch_all(conn, _TRIGGERS_SQL)


def function_definition(conn: psycopg.Connection, identity: str) -> str:
    """``pg_get_functiondef`` of a function given as regprocedure text (e.g. ``public.f()``)."""
    rows = fetch_all(conn, "SELECT pg_get_functiondef(%s::regprocedure) AS def", (identity,))
    return rows[0]["def"]


def tables_with_logging_triggers(conn: psycopg.Connection, cfg: MigrationConfig | None = None) -> set[str]:
    return {t.table for t in logging_triggers(conn, cfg)}


def source_columns(conn: psycopg.Connection, cfg: MigrationConfig) -> dict[str, dict[str, Any]]:
    """The source table's columns by name: catalog type (``format_type``), type category, has a default."""
    rows = fetch_all(
        conn, load_sql("catalog/03_select_source_columns.sql"), (cfg.source.schema, cfg.source.table)
    )
    return {r["name"]: r for r in rows}


# The source key types the migration supports (legacy_activity_log_id, chunk bounds, parity keys).
KEY_TYPES = ("bigint", "integer", "smallint", "uuid")


def source_key_type(conn: psycopg.Connection, cfg: MigrationConfig) -> str:
    """The source key's type as ``format_type`` prints it: uuid or an integer type, else
    ``PreflightError`` (the column is missing, or the migration does not support its type)."""
    key = source_columns(conn, cfg).get(cfg.source.key)
    if key is None:
        raise PreflightError(f"source key column {cfg.source_table}.{cfg.source.key} does not exist")
    if key["type"] not in KEY_TYPES:
        raise PreflightError(
            f"source key {cfg.source_table}.{cfg.source.key} has type {key['type']}; "
            f"the migration supports {list(KEY_TYPES)}"
        )
    return str(key["type"])


def table_columns(conn: psycopg.Connection, schema: str, table: str) -> list[tuple[str, str]]:
    """(name, type as format_type prints it) of a relation's live columns, in order."""
    rows = fetch_all(conn, load_sql("catalog/11_select_table_columns.sql"), (schema, table))
    return [(r["name"], r["type"]) for r in rows]


def row_security_enabled(conn: psycopg.Connection, schema: str, table: str) -> bool:
    """Whether the table exists and has row level security enabled."""
    return bool(scalar(conn, load_sql("catalog/12_select_row_security.sql"), (schema, table)))
