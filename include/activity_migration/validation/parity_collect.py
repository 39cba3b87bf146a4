"""Collect the parity findings: Postgres computes the differences, this module stores one row per check.

Everything happens in one transaction on an autocommit connection: the differences go into
session temp tables (``parity_diff``, and in the full scope ``parity_groups`` and
``parity_counts``), are classified and summarised in SQL, and the findings replace the
previous run's in ``<state>.parity_findings``. Only the incremental scope's whole-table
counts may run on a second connection, beside the row-level statement.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from ..config import MigrationConfig
from ..db import connection, fetch_all, fetch_row, load_sql, run_sql_file, scalar
from .parity_identifiers import (
    COUNT_CHECKS,
    MISMATCH_FIELDS,
    ROW_CHECKS,
    view_identifiers,
)
from .parity_scope import Scope, estimated_source_rows

# Which source column (config.source.columns key) feeds each mismatch field.
_FIELD_SOURCE = {
    "actor_id": "actor_id",
    "customer_id": "customer_id",
    "event_type": "action",
    "entity_type": "entity_type",
    "entity_id": "entity_id",
    "description": "description",
    "payload": "metadata",
    "ip_address": "ip_address",
    "user_agent": "user_agent",
    "occurred_at": "occurred_at",
}


@dataclass
class ParityCollection:
    findings: list[dict[str, Any]]
    statistics: dict[str, Any] = field(default_factory=dict)
    entity_type_counts: list[dict[str, Any]] = field(default_factory=list)


def _whole_table_counts(conn: psycopg.Connection, ids: dict[str, Any]) -> dict[str, Any]:
    return fetch_row(
        conn,
        load_sql(
            "validation/10_count_parity_totals.sql", state=ids["state"], src=ids["src"], events=ids["events"]
        ),
    )


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


def collect(
    conn: psycopg.Connection, cfg: MigrationConfig, scope: Scope, dsn: str | None = None
) -> ParityCollection:
    """Compute the parity findings for ``scope`` and store them in ``<state>.parity_findings``.

    ``conn`` must be in autocommit mode; everything happens in one transaction, except, when
    ``dsn`` is given, the incremental scope's whole-table counts (a second connection).
    """
    ids = view_identifiers(conn, cfg)
    stats: dict[str, Any] = scope.describe()
    t0 = time.perf_counter()
    with _counts_beside(dsn if scope.name != "full" else None, ids) as counts_future, conn.transaction():
        # JIT compiling these statements costs about a second each (their cost estimates are
        # high) and buys nothing: the work is hashing and function calls, not expressions.
        conn.execute("SET LOCAL jit = off")
        conn.execute(load_sql("validation/16_create_parity_diff_temp.sql", key_type=ids["key_type"]))
        if scope.name == "full":
            _collect_full_diff(conn, ids, stats)
        else:
            _collect_incremental_diff(conn, cfg, scope, ids, stats)
        diff_rows = _classify_and_summarise_diff(conn, ids)
        stats["diff_seconds"] = round(time.perf_counter() - t0, 3)

        t1 = time.perf_counter()
        entity_counts: list[dict[str, Any]] = []
        if scope.name == "full":
            entity_counts, totals, count_findings = _full_scope_counts(conn, ids)
            stats["source_rows_checked"] = totals["source_rows"]
            stats["event_rows_checked"] = totals["event_rows"]
        else:
            totals = counts_future.result() if counts_future is not None else _whole_table_counts(conn, ids)
            count_findings = _incremental_count_findings()
        count_findings["count_total"] = _count_total_finding(totals)
        stats["totals"] = {k: int(v) for k, v in totals.items()}
        stats["count_seconds"] = round(time.perf_counter() - t1, 3)

        findings = _findings(cfg, diff_rows, count_findings)
        _store_findings(conn, cfg, findings, scope.name)
    stats["diff_rows"] = int(
        sum(r["failures"] for r in diff_rows.values() if r["field"] == "" or r["check_name"] == "mismatch")
    )
    stats["collect_seconds"] = round(time.perf_counter() - t0, 3)
    return ParityCollection(
        findings=findings,
        statistics=stats,
        entity_type_counts=[
            {k: (int(v) if isinstance(v, int) else v) for k, v in r.items()} for r in entity_counts
        ],
    )


def _collect_full_diff(conn: psycopg.Connection, ids: dict[str, Any], stats: dict[str, Any]) -> None:
    """Full scope: one pass aggregates into parity_groups; only when some row differs, a second
    pass lists those rows into parity_diff."""
    conn.execute(load_sql("validation/17_create_parity_groups_temp.sql"))
    # Only a few thousand (entity type, day) groups, which the planner cannot know:
    # without this it sorts the two-million-row join to aggregate it (external sort).
    conn.execute("SET LOCAL enable_sort = off")
    compare = {"state": ids["state"], "events": ids["events"], "differs": ids["differs"]}
    run_sql_file(conn, "validation/02_collect_parity_full.sql", **compare)
    conn.execute("SET LOCAL enable_sort = on")
    stats["differing_rows"] = int(scalar(conn, "SELECT coalesce(sum(differing_rows), 0) FROM parity_groups"))
    if stats["differing_rows"]:
        run_sql_file(
            conn,
            "validation/13_collect_parity_full_diff.sql",
            **compare,
            differing_fields=ids["differing_fields"],
        )


# The placeholders of validation/03_collect_parity_incremental.sql.
_INCREMENTAL_PARTS = "state events src key key_type differs differing_fields compared_columns".split()


def _collect_incremental_diff(
    conn: psycopg.Connection, cfg: MigrationConfig, scope: Scope, ids: dict[str, Any], stats: dict[str, Any]
) -> None:
    """Incremental scope, one statement: the source side (sample + new rows, each probed in
    events by its legacy id) and the events side over the same window and key range (orphans)."""
    inc = fetch_row(
        conn,
        load_sql("validation/03_collect_parity_incremental.sql", **{k: ids[k] for k in _INCREMENTAL_PARTS}),
        scope.params(),
    )
    stats["source_rows_checked"] = int(inc["source_rows"])
    stats["sampled_source_rows"] = int(inc["sampled_source_rows"])
    # What the sample can find: one older row that differs is in tonight's sample with
    # probability sampled/older rows; every key comes round once in sample_ranges nights.
    older = max(estimated_source_rows(conn, cfg) - int(scope.new_source_rows or 0), 1)
    stats["older_rows_estimated"] = older
    stats["sampled_fraction"] = round(min(1.0, stats["sampled_source_rows"] / older), 6)
    stats["detection"] = (
        f"one differing older row is found tonight with probability "
        f"{stats['sampled_fraction']:.2%}, and within {scope.sample_ranges} nights for certain "
        "(every key range comes round); new rows are all checked"
    )
    stats["event_rows_checked"] = int(inc["event_rows"])
    stats["sample_last_key"] = inc["sample_last_key"]


def _classify_and_summarise_diff(
    conn: psycopg.Connection, ids: dict[str, Any]
) -> dict[tuple[str, str], dict[str, Any]]:
    """Classify the collected differences and summarise them: (check, field) -> failures, examples."""
    # A temp table has no statistics: without them the classification below may plan a
    # scan of the whole source instead of a few primary-key probes.
    conn.execute("ANALYZE parity_diff")
    run_sql_file(
        conn, "validation/08_classify_parity_missing.sql", state=ids["state"], key_type=ids["key_type"]
    )
    return {
        (r["check_name"], r["field"]): r
        for r in fetch_all(conn, load_sql("validation/09_summarize_parity_diff.sql"))
    }


def _full_scope_counts(
    conn: psycopg.Connection, ids: dict[str, Any]
) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, dict[str, Any]]]:
    """Full scope: (per entity type counts, totals, the per entity type / per day count findings),
    summed from the groups the one-pass collection left behind."""
    run_sql_file(
        conn, "validation/12_summarize_parity_counts.sql", state=ids["state"], key_type=ids["key_type"]
    )
    entity_counts = fetch_all(conn, load_sql("validation/18_sum_parity_counts_by_entity_type.sql"))
    days = fetch_all(conn, load_sql("validation/19_list_parity_days_that_differ.sql"))
    totals = {
        "source_rows": sum(r["source_rows"] + r["quarantined_rows"] for r in entity_counts),
        "quarantined_rows": sum(r["quarantined_rows"] for r in entity_counts),
        "event_rows": sum(r["event_rows"] for r in entity_counts),
    }
    bad_types = [r for r in entity_counts if r["source_rows"] != r["event_rows"]]
    count_findings = {
        "count_entity_type": {
            "failures": len(bad_types),
            "examples": [
                f"{r['entity_type']}: source {r['source_rows']} vs events {r['event_rows']}"
                for r in bad_types[:5]
            ],
            "detail": f"{len(bad_types)} entity type(s) with different counts" if bad_types else None,
        },
        "count_day": {
            "failures": len(days),
            "examples": [
                f"{r['day']}: source {r['source_rows']} vs events {r['event_rows']}" for r in days[:5]
            ],
            "detail": f"{len(days)} day(s) with different counts" if days else None,
        },
    }
    return entity_counts, totals, count_findings


def _incremental_count_findings() -> dict[str, dict[str, Any]]:
    return {
        c: {
            "checked": False,
            "failures": 0,
            "examples": [],
            "detail": "incremental scope: whole-table counts only (per entity type/day in full checks)",
        }
        for c in ("count_entity_type", "count_day")
    }


def _count_total_finding(totals: dict[str, Any]) -> dict[str, Any]:
    expected = totals["source_rows"] - totals["quarantined_rows"]
    return {
        "failures": 0 if expected == totals["event_rows"] else 1,
        "examples": []
        if expected == totals["event_rows"]
        else [
            f"source {totals['source_rows']} - quarantined {totals['quarantined_rows']} = {expected} vs "
            f"events {totals['event_rows']}"
        ],
        "detail": f"source {totals['source_rows']}, quarantined {totals['quarantined_rows']}, linked events "
        f"{totals['event_rows']}",
    }


def _findings(
    cfg: MigrationConfig,
    diff_rows: dict[tuple[str, str], dict[str, Any]],
    count_findings: dict[str, dict[str, Any]],
) -> list[dict[str, Any]]:
    """One finding per row check, per mismatch field and per count check, in that order."""
    findings = []
    for check in ROW_CHECKS:
        r = diff_rows.get((check, ""))
        detail = None
        if r and check == "unquarantined_bad_row":
            detail = f"rejection reasons: {r['reasons']}"
        elif r:
            detail = {
                "missing": "source rows without an event and not quarantined",
                "orphan": "events whose legacy id does not exist in the source",
            }[check]
        findings.append(
            {
                "check_name": check,
                "field": "",
                "checked": True,
                "failures": r["failures"] if r else 0,
                "examples": list(r["examples"]) if r else [],
                "detail": detail,
            }
        )
    for f in MISMATCH_FIELDS:
        r = diff_rows.get(("mismatch", f))
        mapped = cfg.source.column(_FIELD_SOURCE[f]) is not None
        findings.append(
            {
                "check_name": "mismatch",
                "field": f,
                "checked": mapped,
                "failures": r["failures"] if r else 0,
                "examples": list(r["examples"]) if r else [],
                "detail": (
                    f"events.{f} differs from the mapped source value"
                    if r
                    else (None if mapped else f"{f} is not mapped in the config")
                ),
            }
        )
    for c in COUNT_CHECKS:
        cf = count_findings[c]
        findings.append(
            {
                "check_name": c,
                "field": "",
                "checked": cf.get("checked", True),
                "failures": cf["failures"],
                "examples": cf["examples"],
                "detail": cf["detail"],
            }
        )
    return findings


def _store_findings(
    conn: psycopg.Connection, cfg: MigrationConfig, findings: list[dict[str, Any]], scope_name: str
) -> None:
    """Replace the previous run's findings (in the caller's transaction)."""
    table = sql.Identifier(cfg.state_schema, "parity_findings")
    conn.execute(sql.SQL("DELETE FROM {}").format(table))
    with conn.cursor() as cur:
        cur.executemany(
            load_sql("validation/20_insert_parity_finding.sql", findings=table),
            [{**f, "scope": scope_name} for f in findings],
        )
