"""Postgres does the parity work: collect the differences between the source and events.

One pass in SQL (``include/sql/validation``) writes the differences into a session temp
table, classifies them, and stores one findings row per check in
``<state>.parity_findings``; the parity suite (GX) then judges those findings. Scope:

- ``full``: one FULL JOIN of ``activity_logs`` and ``events`` aggregated into per entity
  type / day counts and a count of the rows that differ (each table read once); only when
  some row differs, a second pass lists those rows;
- ``incremental``: source rows created since a watermark, plus a rolling sample of older
  rows sized by a budget (half as many as the new rows), each probed in events through the
  unique legacy-id index in one pass; events created since the watermark or in the sampled
  key range, probed in the source (orphans); and exact whole-table counts: its cost grows
  with new rows, not with the table.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from .. import privileges
from ..catalog import source_columns
from ..config import MigrationConfig
from ..db import (
    connection,
    fetch_all,
    fetch_one,
    load_sql,
    run_ddl_with_retry,
    run_sql_file,
    scalar,
)
from ..errors import ConfigError, PreflightError
from ..mapping import NORMALISED_TEXT, event_field_exprs, normalised

log = logging.getLogger(__name__)

MISMATCH_FIELDS = ("actor_id", "customer_id", "event_type", "entity_type", "entity_id", "description", "payload",
                   "ip_address", "user_agent", "occurred_at")
ROW_CHECKS = ("missing", "unquarantined_bad_row", "orphan")
COUNT_CHECKS = ("count_total", "count_entity_type", "count_day")
KEY_TYPES = {"uuid": "uuid", "bigint": "bigint", "integer": "integer", "smallint": "smallint"}

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
            ev=ev, raw=raw, norm=normalised(cfg, f, raw))

    conds = [(f, cond(f)) for f in MISMATCH_FIELDS]
    compared = [f"{f}_raw" if f in NORMALISED_TEXT else f for f in MISMATCH_FIELDS]
    return {
        # the v_parity_source columns the comparison reads (a narrow select of the view)
        "compared_columns": sql.SQL(", ").join(sql.Identifier(c) for c in compared),
        "differs": sql.SQL("({})").format(sql.SQL(" OR ").join(sql.SQL("({})").format(c) for _, c in conds)),
        "differing_fields": sql.SQL("array_remove(ARRAY[{}]::text[], NULL)").format(sql.SQL(", ").join(
            sql.SQL("CASE WHEN {} THEN {} END").format(c, sql.Literal(f)) for f, c in conds)),
    }


# Which source column (config.source.columns key) feeds each mismatch field.
_FIELD_SOURCE = {"actor_id": "actor_id", "customer_id": "customer_id", "event_type": "action",
                 "entity_type": "entity_type", "entity_id": "entity_id", "description": "description",
                 "payload": "metadata", "ip_address": "ip_address", "user_agent": "user_agent",
                 "occurred_at": "occurred_at"}

@dataclass
class Scope:
    """What a run covers. ``since``/``lo``/``hi`` are None in the full scope.

    Incremental: source rows created since ``since``, plus a rolling sample of at most
    ``budget`` older rows: the first ``budget`` keys of the key range [lo, hi) (slice
    ``sample_index`` of ``sample_ranges`` slices of the key space, chosen by date).
    """
    name: str = "full"                 # full | incremental
    since: dt.datetime | None = None   # source created_at / events created_at lower bound
    lo: str | None = None              # sampled key range [lo, hi); hi None = unbounded
    hi: str | None = None
    sample_index: int | None = None
    sample_ranges: int = 0             # slices the key space is cut into (>= the requested count)
    budget: int = 0                    # at most this many rows sampled
    new_source_rows: int | None = None
    reason: str = ""

    def params(self) -> dict[str, Any]:
        return {"since": self.since, "lo": self.lo, "hi": self.hi, "budget": self.budget}

    def describe(self) -> dict[str, Any]:
        return {"scope": self.name, "since": self.since.isoformat() if self.since else None, "sample_lo": self.lo,
                "sample_hi": self.hi, "sample_index": self.sample_index, "sample_ranges": self.sample_ranges,
                "sample_budget": self.budget, "new_source_rows": self.new_source_rows, "scope_reason": self.reason}


@dataclass
class ParityCollection:
    findings: list[dict[str, Any]]
    statistics: dict[str, Any] = field(default_factory=dict)
    entity_type_counts: list[dict[str, Any]] = field(default_factory=list)


def table_exists(conn: psycopg.Connection, schema: str, table: str) -> bool:
    return bool(scalar(conn, "SELECT to_regclass(%s) IS NOT NULL",
                       (sql.Identifier(schema, table).as_string(conn),)))


def systems_live(conn: psycopg.Connection, cfg: MigrationConfig) -> dict[str, bool]:
    """Whether the source and the target table exist (the nightly runs only while both do)."""
    return {"source": table_exists(conn, cfg.source.schema, cfg.source.table),
            "target": table_exists(conn, cfg.target_schema, cfg.target_table),
            "state": bool(scalar(conn, "SELECT 1 FROM pg_namespace WHERE nspname = %s", (cfg.state_schema,)))}


def key_type(conn: psycopg.Connection, cfg: MigrationConfig) -> str:
    """The source key's type (uuid or an integer type), read from the catalog."""
    typ = scalar(conn, "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
                       "WHERE a.attrelid = to_regclass(%s) AND a.attname = %s AND NOT a.attisdropped",
                 (sql.Identifier(cfg.source.schema, cfg.source.table).as_string(conn), cfg.source.key))
    if typ is None:
        raise PreflightError(f"source key {cfg.source_table}.{cfg.source.key} not found")
    if typ not in KEY_TYPES:
        raise ConfigError(f"source key {cfg.source_table}.{cfg.source.key} has type {typ}; "
                          f"supported key types: {sorted(KEY_TYPES)}")
    return KEY_TYPES[typ]


def view_identifiers(conn: psycopg.Connection, cfg: MigrationConfig) -> dict[str, Any]:
    """Placeholders of the validation SQL files, built from the config (all quoted)."""
    exprs = event_field_exprs(cfg, "s", source_columns(conn, cfg))
    return {
        "state": cfg.state_schema,
        "src": sql.Identifier(cfg.source.schema, cfg.source.table),
        "events": sql.Identifier(cfg.target_schema, cfg.target_table),
        "key": cfg.source.key,
        "key_type": sql.SQL(key_type(conn, cfg)),
        "created_at": cfg.source.column("occurred_at"),
        **{name: expr for name, expr in exprs.items() if name != "metadata"},
        "payload": exprs["metadata"],
        **mismatch_exprs(cfg),
    }


# The objects 01_create_parity_views.sql creates in the state schema.
VALIDATION_VIEWS = ("v_parity_source", "v_parity_missing", "v_parity_mismatch", "v_parity_orphans", "v_parity_counts",
                    "v_parity_findings", "v_events_in_scope")
VALIDATION_TABLES = ("parity_findings", "validation_scope")
_DEFINITION_MARK = "[definition sha256:{}]"


def validation_index_names(cfg: MigrationConfig) -> tuple[str, str]:
    """Names of the created_at indexes validation adds: (on the source table, on events)."""
    return (f"{cfg.source.table}_{cfg.source.column('occurred_at')}_am_validation_idx"[:63],
            f"{cfg.target_table}_created_at_am_validation_idx"[:63])


def drop_validation_objects(dsn: str, cfg: MigrationConfig) -> list[str]:
    """Remove what validation runs added: the state schema's parity views and tables, and the
    created_at index on the source table (``DROP INDEX CONCURRENTLY``: writers never wait).

    The rollback to before phase 1 calls it: the views depend on ``events``, and the source
    index is not the application's. The index on ``events`` goes with that table. Idempotent.
    """
    state = sql.Identifier(cfg.state_schema)
    stmts: list[sql.Composable] = [sql.SQL("DROP VIEW IF EXISTS {} CASCADE").format(
        sql.SQL(", ").join(sql.Identifier(cfg.state_schema, v) for v in VALIDATION_VIEWS))]
    stmts += [sql.SQL("DROP TABLE IF EXISTS {}.{}").format(state, sql.Identifier(t)) for t in VALIDATION_TABLES]
    run_ddl_with_retry(dsn, stmts, lock_timeout_ms=cfg.safety.lock_timeout_ms, attempts=cfg.safety.ddl_attempts)
    source_index = validation_index_names(cfg)[0]
    run_ddl_with_retry(dsn, [sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(
        sql.Identifier(cfg.source.schema, source_index))], lock_timeout_ms=cfg.safety.lock_timeout_ms,
        attempts=cfg.safety.ddl_attempts, transactional=False)
    return [*VALIDATION_VIEWS, *VALIDATION_TABLES, f"{cfg.source.schema}.{source_index}"]


def ensure_validation_objects(conn: psycopg.Connection, cfg: MigrationConfig, *, indexes: bool = True,
                              dsn: str | None = None) -> bool:
    """Create (or refresh) the parity views and tables; with ``indexes``, the created_at indexes.

    The views are (re)created only when missing or when their SQL, rendered from the config,
    changed: a hash of it is kept in the comment of ``v_parity_source`` (a CASCADE that drops a
    view drops the mark with it). Only our own objects are locked. The two indexes are built
    CONCURRENTLY under lock_timeout with retries (online rule) when they do not exist.
    Returns whether the views were (re)created.
    """
    ids = view_identifiers(conn, cfg)
    stmt = load_sql("validation/01_create_parity_views.sql",
                    **{k: ids[k] for k in ("state", "src", "events", "key", "key_type", "actor_id", "customer_id",
                                           "action", "entity_type", "entity_type_raw", "entity_id", "entity_id_raw", "description", "description_raw",
                                           "payload", "ip_address", "user_agent", "user_agent_raw",
                                           "occurred_at", "conversion_reason", "differs", "differing_fields")})
    mark = _DEFINITION_MARK.format(hashlib.sha256(stmt.as_string(conn).encode()).hexdigest()[:16])
    state = fetch_one(conn, """
        SELECT count(*) FILTER (WHERE (c.relkind = 'v' AND c.relname = ANY(%(views)s))
                                   OR (c.relkind IN ('r', 'u', 'p') AND c.relname = ANY(%(tables)s))) AS present,
               max(obj_description(c.oid, 'pg_class')) FILTER (WHERE c.relname = 'v_parity_source') AS comment
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = %(schema)s""",
                      {"views": list(VALIDATION_VIEWS), "tables": list(VALIDATION_TABLES), "schema": cfg.state_schema})
    current = (state and state["present"] == len(VALIDATION_VIEWS) + len(VALIDATION_TABLES)
               and (state["comment"] or "").endswith(mark))
    if not current:
        with conn.transaction():
            conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(
                sql.Literal(f"{cfg.safety.lock_timeout_ms}ms")))
            with conn.cursor() as cur:
                cur.execute(stmt)
            comment = scalar(conn, "SELECT obj_description(to_regclass(%s), 'pg_class')",
                             (sql.Identifier(cfg.state_schema, "v_parity_source").as_string(conn),)) or ""
            conn.execute(sql.SQL("COMMENT ON VIEW {} IS {}").format(
                sql.Identifier(cfg.state_schema, "v_parity_source"), sql.Literal(f"{comment} {mark}".strip())))
            privileges.lock_down_state_schema(conn, cfg)   # the new tables: no grant, row level security
    if indexes and dsn:
        source_index, events_index = validation_index_names(cfg)
        wanted = [
            (cfg.source.schema, source_index,
             "validation/06_create_source_created_at_index.sql", {"src": ids["src"], "column": ids["created_at"]}),
            (cfg.target_schema, events_index,
             "validation/07_create_events_created_at_index.sql", {"events": ids["events"]}),
        ]
        for schema, index, path, parts in wanted:
            if table_exists(conn, schema, index):
                continue  # IF NOT EXISTS would skip it too; this spares a connection and a lock wait
            run_ddl_with_retry(dsn, [load_sql(path, index=index, **parts)], lock_timeout_ms=cfg.safety.lock_timeout_ms,
                               attempts=cfg.safety.ddl_attempts, transactional=False)
    return not current


def new_source_rows(conn: psycopg.Connection, cfg: MigrationConfig, since: dt.datetime) -> int:
    """Source rows created at or after ``since`` (an index-only range scan of the created_at index)."""
    return int(scalar(conn, sql.SQL("SELECT count(*) FROM {t} WHERE {c} >= %s").format(
        t=sql.Identifier(cfg.source.schema, cfg.source.table), c=sql.Identifier(cfg.source.column("occurred_at"))),
        (since,)))


def sample_budget(new_rows: int, ratio: float, min_rows: int) -> int:
    """How many older rows the rolling sample may check: ``ratio`` x the new rows, at least ``min_rows``."""
    return max(int(min_rows), int(round(ratio * max(0, new_rows))))


def estimated_source_rows(conn: psycopg.Connection, cfg: MigrationConfig) -> int:
    """The planner's estimate of the source's rows (0 before the first ANALYZE: then count)."""
    ident = sql.Identifier(cfg.source.schema, cfg.source.table).as_string(conn)
    est = scalar(conn, "SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = to_regclass(%s)", (ident,))
    if not est:
        est = scalar(conn, sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(cfg.source.schema,
                                                                                 cfg.source.table)))
    return int(est or 0)


def sample_range(conn: psycopg.Connection, cfg: MigrationConfig, ktype: str, ranges: int,
                 run_date: dt.date, budget: int | None = None) -> tuple[str | None, str | None, int | None, int]:
    """The key range [lo, hi) sampled on ``run_date`` and the number of slices it was cut from.

    The key space is cut into ``max(ranges, estimated rows / budget)`` equal slices (so one
    slice holds about ``budget`` rows or fewer) and slice (date ordinal mod slices) is taken:
    deterministic by date, and every key comes round again after as many nights as there are
    slices. uuid keys: the 128-bit space; integer keys: [min, max] of the table (two index
    endpoint probes). ``ranges`` 0 = no sampling. Returns (lo, hi, index, slices).
    """
    if ranges <= 0:
        return None, None, None, 0
    slices = ranges
    if budget:
        est = scalar(conn, "SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = to_regclass(%s)",
                     (sql.Identifier(cfg.source.schema, cfg.source.table).as_string(conn),)) or 0
        slices = max(ranges, -(-int(est) // max(1, budget)))
    i = run_date.toordinal() % slices
    if ktype == "uuid":
        lo = str(uuid.UUID(int=i * (1 << 128) // slices))
        hi = None if i == slices - 1 else str(uuid.UUID(int=(i + 1) * (1 << 128) // slices))
        return lo, hi, i, slices
    row = fetch_one(conn, sql.SQL("SELECT min({k}) AS lo, max({k}) AS hi FROM {t}").format(
        k=sql.Identifier(cfg.source.key), t=sql.Identifier(cfg.source.schema, cfg.source.table)))
    if not row or row["lo"] is None:
        return None, None, i, slices
    kmin, kmax = int(row["lo"]), int(row["hi"])
    width = max(1, -(-(kmax - kmin + 1) // slices))
    lo = kmin + i * width
    hi = None if i == slices - 1 else lo + width
    return str(lo), (None if hi is None else str(hi)), i, slices


def _whole_table_counts(conn: psycopg.Connection, ids: dict[str, Any]) -> dict[str, Any]:
    return fetch_one(conn, load_sql("validation/10_count_parity_totals.sql", state=ids["state"], src=ids["src"],
                                    events=ids["events"]))


def _whole_table_counts_on_own_connection(dsn: str, ids: dict[str, Any]) -> dict[str, Any]:
    with connection(dsn, autocommit=True) as conn:
        return _whole_table_counts(conn, ids)


@contextlib.contextmanager
def _counts_beside(dsn: str | None, ids: dict[str, Any]) -> Iterator[Future | None]:
    """The incremental scope's whole-table counts on a second connection, while the row-level
    statement runs: they read other pages (whole indexes, not a few thousand probes), so on a
    second core they cost the run nothing. Without ``dsn`` they run after, on the same one."""
    if not dsn:
        yield None
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="parity-counts") as pool:
        yield pool.submit(_whole_table_counts_on_own_connection, dsn, ids)


def collect(conn: psycopg.Connection, cfg: MigrationConfig, scope: Scope, dsn: str | None = None) -> ParityCollection:
    """Compute the parity findings for ``scope`` and store them in ``<state>.parity_findings``.

    ``conn`` must be in autocommit mode; everything happens in one transaction, except, when
    ``dsn`` is given, the incremental scope's whole-table counts (a second connection).
    """
    ids = view_identifiers(conn, cfg)
    ktype = ids["key_type"]
    stats: dict[str, Any] = scope.describe()
    t0 = time.perf_counter()
    with _counts_beside(dsn if scope.name != "full" else None, ids) as counts_future, conn.transaction():
        # JIT compiling these statements costs about a second each (their cost estimates are
        # high) and buys nothing: the work is hashing and function calls, not expressions.
        conn.execute("SET LOCAL jit = off")
        conn.execute(sql.SQL("CREATE TEMP TABLE parity_diff (kind text NOT NULL, legacy_key {} NOT NULL, "
                             "fields text[], reason text) ON COMMIT DROP").format(ktype))
        if scope.name == "full":
            conn.execute("CREATE TEMP TABLE parity_groups (s_entity_type text, s_day date, e_entity_type text, "
                         "e_day date, source_rows bigint NOT NULL, event_rows bigint NOT NULL, "
                         "differing_rows bigint NOT NULL) ON COMMIT DROP")
            # Only a few thousand (entity type, day) groups, which the planner cannot know:
            # without this it sorts the two-million-row join to aggregate it (external sort).
            conn.execute("SET LOCAL enable_sort = off")
            compare = {"state": ids["state"], "events": ids["events"], "differs": ids["differs"]}
            run_sql_file(conn, "validation/02_collect_parity_full.sql", **compare)
            conn.execute("SET LOCAL enable_sort = on")
            stats["differing_rows"] = int(scalar(conn, "SELECT coalesce(sum(differing_rows), 0) FROM parity_groups"))
            if stats["differing_rows"]:
                run_sql_file(conn, "validation/13_collect_parity_full_diff.sql", **compare,
                             differing_fields=ids["differing_fields"])
        else:
            # One statement: the source side (sample + new rows, each probed in events by its
            # legacy id) and the events side over the same window and key range (orphans).
            inc = fetch_one(conn, load_sql("validation/03_collect_parity_incremental.sql", state=ids["state"],
                                           events=ids["events"], src=ids["src"], key=ids["key"], key_type=ktype,
                                           differs=ids["differs"], differing_fields=ids["differing_fields"],
                                           compared_columns=ids["compared_columns"]),
                            scope.params())
            stats["source_rows_checked"] = int(inc["source_rows"])
            stats["sampled_source_rows"] = int(inc["sampled_source_rows"])
            # What the sample can find: one older row that differs is in tonight's sample with
            # probability sampled/older rows; every key comes round once in sample_ranges nights.
            older = max(estimated_source_rows(conn, cfg) - int(scope.new_source_rows or 0), 1)
            stats["older_rows_estimated"] = older
            stats["sampled_fraction"] = round(min(1.0, stats["sampled_source_rows"] / older), 6)
            stats["detection"] = (f"one differing older row is found tonight with probability "
                                  f"{stats['sampled_fraction']:.2%}, and within {scope.sample_ranges} nights for certain "
                                  "(every key range comes round); new rows are all checked")
            stats["event_rows_checked"] = int(inc["event_rows"])
            last_key = inc["sample_last_key"]
            stats["sample_last_key"] = last_key
        # A temp table has no statistics: without them the classification below may plan a
        # scan of the whole source instead of a few primary-key probes.
        conn.execute("ANALYZE parity_diff")
        run_sql_file(conn, "validation/08_classify_parity_missing.sql", state=ids["state"], key_type=ktype)
        diff_rows = {(r["check_name"], r["field"]): r for r in fetch_all(conn, load_sql("validation/09_summarize_parity_diff.sql"))}
        stats["diff_seconds"] = round(time.perf_counter() - t0, 3)

        t1 = time.perf_counter()
        entity_counts: list[dict[str, Any]] = []
        count_findings: dict[str, dict[str, Any]] = {}
        if scope.name == "full":
            run_sql_file(conn, "validation/12_summarize_parity_counts.sql", state=ids["state"], key_type=ktype)
            entity_counts = fetch_all(conn, "SELECT nullif(entity_type, '') AS entity_type, sum(source_rows)::bigint AS source_rows, "
                                            "sum(quarantined_rows)::bigint AS quarantined_rows, sum(event_rows)::bigint AS event_rows "
                                            "FROM parity_counts GROUP BY 1 ORDER BY 1 NULLS FIRST")
            days = fetch_all(conn, "SELECT day, sum(source_rows)::bigint AS source_rows, sum(event_rows)::bigint AS event_rows "
                                   "FROM parity_counts GROUP BY day HAVING sum(source_rows) <> sum(event_rows) ORDER BY day")
            totals = {"source_rows": sum(r["source_rows"] + r["quarantined_rows"] for r in entity_counts),
                      "quarantined_rows": sum(r["quarantined_rows"] for r in entity_counts),
                      "event_rows": sum(r["event_rows"] for r in entity_counts)}
            bad_types = [r for r in entity_counts if r["source_rows"] != r["event_rows"]]
            count_findings["count_entity_type"] = {
                "failures": len(bad_types),
                "examples": [f"{r['entity_type']}: source {r['source_rows']} vs events {r['event_rows']}" for r in bad_types[:5]],
                "detail": f"{len(bad_types)} entity type(s) with different counts" if bad_types else None}
            count_findings["count_day"] = {
                "failures": len(days),
                "examples": [f"{r['day']}: source {r['source_rows']} vs events {r['event_rows']}" for r in days[:5]],
                "detail": f"{len(days)} day(s) with different counts" if days else None}
            stats["source_rows_checked"] = totals["source_rows"]
            stats["event_rows_checked"] = totals["event_rows"]
        else:
            totals = counts_future.result() if counts_future is not None else _whole_table_counts(conn, ids)
            for c in ("count_entity_type", "count_day"):
                count_findings[c] = {"checked": False, "failures": 0, "examples": [],
                                     "detail": "incremental scope: whole-table counts only (per entity type/day in full checks)"}
        expected = totals["source_rows"] - totals["quarantined_rows"]
        count_findings["count_total"] = {
            "failures": 0 if expected == totals["event_rows"] else 1,
            "examples": [] if expected == totals["event_rows"] else [
                f"source {totals['source_rows']} - quarantined {totals['quarantined_rows']} = {expected} vs events {totals['event_rows']}"],
            "detail": f"source {totals['source_rows']}, quarantined {totals['quarantined_rows']}, linked events {totals['event_rows']}"}
        stats["totals"] = {k: int(v) for k, v in totals.items()}
        stats["count_seconds"] = round(time.perf_counter() - t1, 3)

        findings = []
        for check in ROW_CHECKS:
            r = diff_rows.get((check, ""))
            detail = None
            if r and check == "unquarantined_bad_row":
                detail = f"rejection reasons: {r['reasons']}"
            elif r:
                detail = {"missing": "source rows without an event and not quarantined",
                          "orphan": "events whose legacy id does not exist in the source"}[check]
            findings.append({"check_name": check, "field": "", "checked": True, "failures": r["failures"] if r else 0,
                             "examples": list(r["examples"]) if r else [], "detail": detail})
        for f in MISMATCH_FIELDS:
            r = diff_rows.get(("mismatch", f))
            mapped = cfg.source.column(_FIELD_SOURCE[f]) is not None
            findings.append({"check_name": "mismatch", "field": f, "checked": mapped,
                             "failures": r["failures"] if r else 0, "examples": list(r["examples"]) if r else [],
                             "detail": (f"events.{f} differs from the mapped source value" if r else
                                        (None if mapped else f"{f} is not mapped in the config"))})
        for c in COUNT_CHECKS:
            cf = count_findings[c]
            findings.append({"check_name": c, "field": "", "checked": cf.get("checked", True), "failures": cf["failures"],
                             "examples": cf["examples"], "detail": cf["detail"]})
        conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(cfg.state_schema, "parity_findings")))
        with conn.cursor() as cur:
            cur.executemany(
                sql.SQL("INSERT INTO {} (check_name, field, checked, failures, examples, detail, scope) "
                        "VALUES (%(check_name)s, %(field)s, %(checked)s, %(failures)s, %(examples)s, %(detail)s, %(scope)s)"
                        ).format(sql.Identifier(cfg.state_schema, "parity_findings")),
                [{**f, "scope": scope.name} for f in findings])
    stats["diff_rows"] = int(sum(r["failures"] for r in diff_rows.values() if r["field"] == "" or r["check_name"] == "mismatch"))
    stats["collect_seconds"] = round(time.perf_counter() - t0, 3)
    return ParityCollection(findings=findings, statistics=stats,
                            entity_type_counts=[{k: (int(v) if isinstance(v, int) else v) for k, v in r.items()}
                                                for r in entity_counts])
