"""The rows half of rehearsal-copy: what each table's copy selects (the sample, the linked
events, whole or sampled other tables), streaming it, pruning rows the sample orphaned,
sequences, materialized views and statistics on the target."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from .config import MigrationConfig
from .db import fetch_all, load_sql, scalar
from .rehearsal_copy_catalog import foreign_keys

if TYPE_CHECKING:
    from .rehearsal_copy import CopyReport


def table_select(
    src: psycopg.Connection,
    table: dict[str, Any],
    cfg: MigrationConfig,
    sample_rows: int,
    max_table_rows: int,
) -> tuple[sql.Composable, str]:
    """The SELECT that copies ``table`` and how (``sample``, ``linked`` or ``whole``).

    The source table: ``sample_rows`` rows in md5-of-key order (stable within the snapshot);
    the target table: the events of those rows; any other table whole up to ``max_table_rows``
    rows, else a random ``max_table_rows`` of it.
    """
    name = f"{table['schema']}.{table['name']}"
    ident = sql.Identifier(table["schema"], table["name"])
    only = sql.SQL("") if table["relkind"] == "p" else sql.SQL("ONLY ")
    cols = list(table["columns"])
    col_list = sql.SQL(", ").join(sql.Identifier(c) for c in cols)
    base = sql.SQL("SELECT {} FROM {}{}").format(col_list, only, ident)
    key = sql.Identifier(cfg.source.key)
    sample_order = sql.SQL("ORDER BY md5({}::text) LIMIT {}").format(key, sql.Literal(sample_rows))
    if name == cfg.source_table:
        return sql.SQL("{} {}").format(base, sample_order), "sample"
    if name == cfg.target and "legacy_activity_log_id" in cols:
        src_ident = sql.Identifier(cfg.source.schema, cfg.source.table)
        return sql.SQL("{} WHERE legacy_activity_log_id::text IN (SELECT {}::text FROM {} {})").format(
            base, key, src_ident, sample_order
        ), "linked"
    # counted, not estimated (reltuples can be stale), but never beyond the limit
    size = scalar(
        src,
        sql.SQL("SELECT count(*) FROM (SELECT 1 FROM {}{} LIMIT {}) s").format(
            only, ident, sql.Literal(max_table_rows + 1)
        ),
    )
    if size > max_table_rows:
        return sql.SQL("{} ORDER BY random() LIMIT {}").format(base, sql.Literal(max_table_rows)), "sample"
    return base, "whole"


def stream_rows(
    src: psycopg.Connection,
    tgt: psycopg.Connection,
    select: sql.Composable,
    table: sql.Composable,
    columns: list[str],
) -> int:
    """``COPY (select) TO STDOUT`` on the source into ``COPY table FROM STDIN`` on the target; rows copied."""
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    with src.cursor() as scur, tgt.cursor() as tcur:
        with (
            scur.copy(sql.SQL("COPY ({}) TO STDOUT").format(select)) as out,
            tcur.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(table, cols)) as into,
        ):
            for chunk in out:
                into.write(chunk)
        return max(tcur.rowcount, 0)


def prune_orphans(tgt: psycopg.Connection, schemas: list[str], sampled: set[str], report: CopyReport) -> None:
    """Delete rows whose foreign keys point at rows the sample left out, until every FK holds."""
    fks = foreign_keys(tgt, schemas)
    dirty = set(sampled)
    while dirty:
        changed: set[str] = set()
        for fk in fks:
            parent = f"{fk['parent_schema']}.{fk['parent']}"
            child = f"{fk['child_schema']}.{fk['child']}"
            if parent not in dirty:
                continue
            not_null = sql.SQL(" AND ").join(
                sql.SQL("c.{} IS NOT NULL").format(sql.Identifier(c)) for c in fk["child_cols"]
            )
            match = sql.SQL(" AND ").join(
                sql.SQL("p.{} = c.{}").format(sql.Identifier(p), sql.Identifier(c))
                for p, c in zip(fk["parent_cols"], fk["child_cols"])
            )
            with tgt.cursor() as cur:
                cur.execute(
                    sql.SQL("DELETE FROM {} c WHERE {} AND NOT EXISTS (SELECT 1 FROM {} p WHERE {})").format(
                        sql.Identifier(fk["child_schema"], fk["child"]),
                        not_null,
                        sql.Identifier(fk["parent_schema"], fk["parent"]),
                        match,
                    )
                )
                if cur.rowcount > 0:
                    report.pruned[child] = report.pruned.get(child, 0) + cur.rowcount
                    changed.add(child)
        dirty = changed


def copy_sequence_values(
    src: psycopg.Connection, tgt: psycopg.Connection, schemas: list[str], report: CopyReport
) -> None:
    """Set every used sequence of ``schemas`` on the target to the source's value."""
    for seq in fetch_all(src, load_sql("rehearsal/13_select_sequence_values.sql"), {"schemas": schemas}):
        tgt.execute(
            "SELECT setval(%s::regclass, %s, true)",
            (sql.Identifier(seq["schemaname"], seq["sequencename"]).as_string(tgt), seq["last_value"]),
        )
        report.sequences += 1


def refresh_matviews(
    src: psycopg.Connection, tgt: psycopg.Connection, schemas: list[str], report: CopyReport
) -> None:
    """Refresh on the target the materialized views populated on the source (bases first)."""
    views = fetch_all(src, load_sql("rehearsal/14_select_populated_matviews.sql"), {"schemas": schemas})
    pending = list(views)
    for _ in range(len(views) + 1):  # a view over another view refreshes once its base did
        failed = []
        for v in pending:
            try:
                tgt.execute(
                    sql.SQL("REFRESH MATERIALIZED VIEW {}").format(sql.Identifier(v["schema"], v["name"]))
                )
                report.matviews.append(f"{v['schema']}.{v['name']}")
            except psycopg.Error:
                failed.append(v)
        if not failed or len(failed) == len(pending):
            pending = failed
            break
        pending = failed
    for v in pending:
        report.warnings.append(
            f"materialized view {v['schema']}.{v['name']} could not be refreshed on the target"
        )


def analyze_copied_tables(tgt: psycopg.Connection, report: CopyReport) -> None:
    """ANALYZE every copied table on the target (fresh statistics for the rehearsal's plans)."""
    for t in report.tables:
        schema, name = t.table.split(".", 1)
        tgt.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(schema, name)))
