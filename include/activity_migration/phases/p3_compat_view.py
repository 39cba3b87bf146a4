"""The compatibility view: a view in the old activity_logs shape (names, order and types from
the catalog) over events. Phase 3 creates ``activity_logs_compat``; phase 6 puts one in the old
table's place."""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from psycopg import sql

from .. import privileges
from ..config import MigrationConfig
from ..db import run_sql_file, server_version_num

log = logging.getLogger(__name__)

COMPAT_VIEW = privileges.COMPAT_VIEW


# Event expression for each mappable source field (the reverse of the phase-2/4 mapping).
_EVENT_EXPR = {
    "actor_id": "e.actor_id",
    "customer_id": "e.customer_id",
    "action": "substr(e.event_type, strpos(e.event_type, '.') + 1)",
    "entity_type": "e.entity_type",
    "entity_id": "e.entity_id",
    "description": "e.description",
    "metadata": "e.payload",
    "ip_address": "e.ip_address",
    "user_agent": "e.user_agent",
    "occurred_at": "e.occurred_at",
}
_EXTRA_COLUMNS = ("event_id", "event_type", "category", "source")


def compat_select_list(
    conn: psycopg.Connection, cfg: MigrationConfig, columns: list[tuple[str, str]]
) -> sql.Composed:
    """The SELECT list giving ``columns`` (the old table's name/type list) from events ``e``.

    Each old column becomes the event expression it maps to (config ``source.columns``), cast
    to the old column's type; an unmapped column is ``NULL::type``. The key is the legacy id,
    falling back to the event id for uuid keys. ``event_id``, ``event_type``, ``category``
    and ``source`` follow, so a reader can reach the event itself.
    """
    reverse = {col: fieldname for fieldname, col in cfg.source.columns.items()}
    key_is_uuid = dict(columns).get(cfg.source.key) == "uuid"
    parts = []
    for name, typ in columns:
        if name == cfg.source.key:
            expr = "coalesce(e.legacy_activity_log_id, e.id)" if key_is_uuid else "e.legacy_activity_log_id"
        elif name in reverse:
            expr = _EVENT_EXPR[reverse[name]]
        else:
            expr = "NULL"
        # typ comes from format_type() of the catalog: a valid type name, not user input.
        parts.append(sql.SQL("({})::{} AS {}").format(sql.SQL(expr), sql.SQL(typ), sql.Identifier(name)))
    names = {n for n, _ in columns}
    extra = {"event_id": "e.id", "event_type": "e.event_type", "category": "e.category", "source": "e.source"}
    for name in _EXTRA_COLUMNS:
        if name not in names:
            parts.append(sql.SQL("{} AS {}").format(sql.SQL(extra[name]), sql.Identifier(name)))
    return sql.SQL(", ").join(parts)


def create_compat_view(
    conn: psycopg.Connection,
    cfg: MigrationConfig,
    view_schema: str,
    view_name: str,
    columns: list[tuple[str, str]],
    grants_key: str = COMPAT_VIEW,
) -> dict[str, Any]:
    """Creates (or replaces) a view in the old shape ``columns`` over events, with the grants of
    ``grants_key`` in privileges.py (no commit: the caller's transaction)."""
    invoker = server_version_num(conn) >= 150000
    if not invoker:
        log.warning(
            "Postgres < 15 has no security_invoker views: %s.%s is granted to service_role only",
            view_schema,
            view_name,
        )
    run_sql_file(
        conn,
        "p3_read_path/03_create_compat_view.sql",
        view=sql.Identifier(view_schema, view_name),
        select_list=compat_select_list(conn, cfg, columns),
        events=sql.Identifier(cfg.target_schema, cfg.target_table),
        view_options=sql.SQL("WITH (security_invoker = true)") if invoker else sql.SQL(""),
    )
    privileges.apply_grants(conn, cfg, grants_key)
    return {"view": f"{view_schema}.{view_name}", "security_invoker": invoker}
