"""The parity views and tables in the state schema and the created_at indexes validation adds.

``ensure_validation_objects`` creates them when missing or when their definition changed;
``drop_validation_objects`` removes them (the rollback to before phase 1).
"""

from __future__ import annotations

import hashlib
from typing import Any

import psycopg
from psycopg import sql

from .. import privileges
from ..config import MigrationConfig
from ..db import fetch_one, load_sql, run_ddl_with_retry, scalar
from .parity_identifiers import table_exists, view_identifiers

# The objects 01_create_parity_views.sql creates in the state schema.
VALIDATION_VIEWS = (
    "v_parity_source",
    "v_parity_missing",
    "v_parity_mismatch",
    "v_parity_orphans",
    "v_parity_counts",
    "v_parity_findings",
    "v_events_in_scope",
)
VALIDATION_TABLES = ("parity_findings", "validation_scope")
_DEFINITION_MARK = "[definition sha256:{}]"


def validation_index_names(cfg: MigrationConfig) -> tuple[str, str]:
    """Names of the created_at indexes validation adds: (on the source table, on events)."""
    return (
        f"{cfg.source.table}_{cfg.source.column('occurred_at')}_am_validation_idx"[:63],
        f"{cfg.target_table}_created_at_am_validation_idx"[:63],
    )


def drop_validation_objects(dsn: str, cfg: MigrationConfig) -> list[str]:
    """Remove what validation runs added: the state schema's parity views and tables, and the
    created_at index on the source table (``DROP INDEX CONCURRENTLY``: writers never wait).

    The rollback to before phase 1 calls it: the views depend on ``events``, and the source
    index is not the application's. The index on ``events`` goes with that table. Idempotent.
    """
    state = sql.Identifier(cfg.state_schema)
    stmts: list[sql.Composable] = [
        sql.SQL("DROP VIEW IF EXISTS {} CASCADE").format(
            sql.SQL(", ").join(sql.Identifier(cfg.state_schema, v) for v in VALIDATION_VIEWS)
        )
    ]
    stmts += [
        sql.SQL("DROP TABLE IF EXISTS {}.{}").format(state, sql.Identifier(t)) for t in VALIDATION_TABLES
    ]
    run_ddl_with_retry(dsn, stmts, **cfg.safety.ddl_retry)
    source_index = validation_index_names(cfg)[0]
    run_ddl_with_retry(
        dsn,
        [
            sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(
                sql.Identifier(cfg.source.schema, source_index)
            )
        ],
        **cfg.safety.ddl_retry,
        transactional=False,
    )
    return [*VALIDATION_VIEWS, *VALIDATION_TABLES, f"{cfg.source.schema}.{source_index}"]


def ensure_validation_objects(
    conn: psycopg.Connection, cfg: MigrationConfig, *, indexes: bool = True, dsn: str | None = None
) -> bool:
    """Make sure the parity views and tables are there and current; with ``indexes``, the created_at indexes.

    The views are (re)created only when missing or when their SQL, rendered from the config,
    changed: a hash of it is kept in the comment of ``v_parity_source`` (a CASCADE that drops a
    view drops the mark with it). Only our own objects are locked. The two indexes are built
    CONCURRENTLY under lock_timeout with retries (online rule) when they do not exist.
    Returns whether the views were (re)created.
    """
    ids = view_identifiers(conn, cfg)
    stmt = _parity_views_statement(ids)
    mark = _DEFINITION_MARK.format(hashlib.sha256(stmt.as_string(conn).encode()).hexdigest()[:16])
    current = _parity_objects_current(conn, cfg, mark)
    if not current:
        _recreate_parity_objects(conn, cfg, stmt, mark)
    if indexes and dsn:
        _ensure_created_at_indexes(conn, cfg, ids, dsn)
    return not current


# The identifiers 01_create_parity_views.sql is rendered with.
_PARITY_VIEW_PARTS = (
    "state",
    "src",
    "events",
    "key",
    "key_type",
    "actor_id",
    "customer_id",
    "action",
    "entity_type",
    "entity_type_raw",
    "entity_id",
    "entity_id_raw",
    "description",
    "description_raw",
    "payload",
    "ip_address",
    "user_agent",
    "user_agent_raw",
    "occurred_at",
    "conversion_reason",
    "differs",
    "differing_fields",
)


def _parity_views_statement(ids: dict[str, Any]) -> sql.Composed:
    """01_create_parity_views.sql rendered with the config's identifiers."""
    return load_sql("validation/01_create_parity_views.sql", **{k: ids[k] for k in _PARITY_VIEW_PARTS})


def _parity_objects_current(conn: psycopg.Connection, cfg: MigrationConfig, mark: str) -> bool:
    """Whether all parity views and tables exist and v_parity_source carries this definition's mark."""
    state = fetch_one(
        conn,
        load_sql("validation/15_read_parity_objects_state.sql"),
        {"views": list(VALIDATION_VIEWS), "tables": list(VALIDATION_TABLES), "schema": cfg.state_schema},
    )
    return bool(
        state
        and state["present"] == len(VALIDATION_VIEWS) + len(VALIDATION_TABLES)
        and (state["comment"] or "").endswith(mark)
    )


def _recreate_parity_objects(
    conn: psycopg.Connection, cfg: MigrationConfig, stmt: sql.Composed, mark: str
) -> None:
    """(Re)create the views and tables in one transaction under lock_timeout and mark the definition."""
    with conn.transaction():
        conn.execute(
            sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(f"{cfg.safety.lock_timeout_ms}ms"))
        )
        with conn.cursor() as cur:
            cur.execute(stmt)
        comment = (
            scalar(
                conn,
                "SELECT obj_description(to_regclass(%s), 'pg_class')",
                (sql.Identifier(cfg.state_schema, "v_parity_source").as_string(conn),),
            )
            or ""
        )
        conn.execute(
            sql.SQL("COMMENT ON VIEW {} IS {}").format(
                sql.Identifier(cfg.state_schema, "v_parity_source"),
                sql.Literal(f"{comment} {mark}".strip()),
            )
        )
        privileges.lock_down_state_schema(conn, cfg)  # the new tables: no grant, row level security


def _ensure_created_at_indexes(
    conn: psycopg.Connection, cfg: MigrationConfig, ids: dict[str, Any], dsn: str
) -> None:
    """Build the missing created_at indexes CONCURRENTLY under lock_timeout with retries (online rule)."""
    source_index, events_index = validation_index_names(cfg)
    wanted = [
        (
            cfg.source.schema,
            source_index,
            "validation/06_create_source_created_at_index.sql",
            {"src": ids["src"], "column": ids["created_at"]},
        ),
        (
            cfg.target_schema,
            events_index,
            "validation/07_create_events_created_at_index.sql",
            {"events": ids["events"]},
        ),
    ]
    for schema, index, path, parts in wanted:
        if table_exists(conn, schema, index):
            continue  # IF NOT EXISTS would skip it too; this spares a connection and a lock wait
        run_ddl_with_retry(
            dsn, [load_sql(path, index=index, **parts)], **cfg.safety.ddl_retry, transactional=False
        )
