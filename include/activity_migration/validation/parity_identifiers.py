"""What the validation SQL files are filled with, and the catalog facts they need.

The identifiers of ``include/sql/validation`` (schemas, tables, the source key and its type,
the mapped source expressions) come from the config, all quoted; the field comparison of an
event with its mapped source row (``mismatch_exprs``) is written once here for every file.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from ..catalog import source_columns, source_key_type
from ..config import MigrationConfig
from ..db import scalar
from ..mapping import NORMALISED_TEXT, event_field_exprs, normalised

MISMATCH_FIELDS = (
    "actor_id",
    "customer_id",
    "event_type",
    "entity_type",
    "entity_id",
    "description",
    "payload",
    "ip_address",
    "user_agent",
    "occurred_at",
)
ROW_CHECKS = ("missing", "unquarantined_bad_row", "orphan")
COUNT_CHECKS = ("count_total", "count_entity_type", "count_day")


def mismatch_exprs(cfg: MigrationConfig, event: str = "e", source: str = "s") -> dict[str, sql.Composable]:
    """The field comparison of an event with its mapped source row, written once for every
    validation SQL file: ``differs`` (true when any mapped field differs) and
    ``differing_fields`` (the text[] of those fields, in MISMATCH_FIELDS order).

    A normalised text field (mapping.NORMALISED_TEXT) must equal the raw legacy value (nearly
    every row, and cheap) or, only where that differs, its normalisation, computed here from
    the view's ``<field>_raw`` column: a hash join projects every view column it passes up at
    the scan, for every row, and sanitize_text (a regexp) and btrim over two million rows cost
    more than the rest of the comparison. The files evaluate ``differing_fields`` only where
    ``differs`` holds.
    """

    def cond(f: str) -> sql.Composable:
        ev = sql.Identifier(event, f)
        if f not in NORMALISED_TEXT:
            return sql.SQL("{} IS DISTINCT FROM {}").format(ev, sql.Identifier(source, f))
        raw = sql.Identifier(source, f"{f}_raw")
        return sql.SQL("{ev} IS DISTINCT FROM {raw} AND {ev} IS DISTINCT FROM {norm}").format(
            ev=ev, raw=raw, norm=normalised(cfg, f, raw)
        )

    conds = [(f, cond(f)) for f in MISMATCH_FIELDS]
    compared = [f"{f}_raw" if f in NORMALISED_TEXT else f for f in MISMATCH_FIELDS]
    return {
        # the v_parity_source columns the comparison reads (a narrow select of the view)
        "compared_columns": sql.SQL(", ").join(sql.Identifier(c) for c in compared),
        "differs": sql.SQL("({})").format(sql.SQL(" OR ").join(sql.SQL("({})").format(c) for _, c in conds)),
        "differing_fields": sql.SQL("array_remove(ARRAY[{}]::text[], NULL)").format(
            sql.SQL(", ").join(
                sql.SQL("CASE WHEN {} THEN {} END").format(c, sql.Literal(f)) for f, c in conds
            )
        ),
    }


def table_exists(conn: psycopg.Connection, schema: str, table: str) -> bool:
    return bool(
        scalar(conn, "SELECT to_regclass(%s) IS NOT NULL", (sql.Identifier(schema, table).as_string(conn),))
    )


def systems_live(conn: psycopg.Connection, cfg: MigrationConfig) -> dict[str, bool]:
    """Whether the source and the target table exist (the nightly runs only while both do)."""
    return {
        "source": table_exists(conn, cfg.source.schema, cfg.source.table),
        "target": table_exists(conn, cfg.target_schema, cfg.target_table),
        "state": bool(scalar(conn, "SELECT 1 FROM pg_namespace WHERE nspname = %s", (cfg.state_schema,))),
    }


def view_identifiers(conn: psycopg.Connection, cfg: MigrationConfig) -> dict[str, Any]:
    """Placeholders of the validation SQL files, built from the config (all quoted)."""
    exprs = event_field_exprs(cfg, "s", source_columns(conn, cfg))
    return {
        "state": cfg.state_schema,
        "src": sql.Identifier(cfg.source.schema, cfg.source.table),
        "events": sql.Identifier(cfg.target_schema, cfg.target_table),
        "key": cfg.source.key,
        "key_type": sql.SQL(source_key_type(conn, cfg)),
        "created_at": cfg.source.column("occurred_at"),
        **{name: expr for name, expr in exprs.items() if name != "metadata"},
        "payload": exprs["metadata"],
        **mismatch_exprs(cfg),
    }
