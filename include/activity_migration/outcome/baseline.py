"""One capture of what activity logging costs the application now: write latency per logged table,
I/O per application write, the activity read queries old and new. Stored as outcome samples.

Taken at the start of every phase DAG (phase 1's before it changes anything) and at the end of
phase 6 (``point="final"``), or on demand (``activity-migration report``).

*Write latency*, per logged table (the tables the tiers claim), over a short window of the
application's own traffic: from ``pg_stat_statements`` when it is installed and loaded (mean
execution time of the application's INSERT/UPDATE/DELETE statements, including the row triggers
they fire; after the triggers are gone, the application's own ``publish_activity`` calls per write
are added, since the work moved there); and always the rolled-back probe the phase-5 sensors use
(``perf.probe_write_latency``: single-row writes timed inside the server; the table write alone).

*I/O per write*: WAL bytes and shared blocks per application write: per statement from
``pg_stat_statements`` (``wal_bytes``, shared blocks hit/read/dirtied/written); without it, the
window's ``pg_stat_wal`` delta (the whole cluster) and the blocks touched on the logged tables, the
log and ``events`` (``pg_statio_user_tables``), divided by the committed writes of the window.
"""

from __future__ import annotations

import os
import time
from typing import Any

import psycopg

from .. import perf
from ..config import MigrationConfig
from ..db import connection, fetch_all, fetch_one, load_sql
from ..ledger import RunContext
from . import queries, samples

WINDOW_S = float(os.environ.get("ACTIVITY_MIGRATION_OUTCOME_WINDOW_S", "5"))
PROBE_WRITES = 20
QUERY_RUNS = int(os.environ.get("ACTIVITY_MIGRATION_OUTCOME_QUERY_RUNS", "5"))
MIN_STATEMENT_CALLS = 20  # as the phase-5 sensor: fewer calls in a window make no figure


def logged_tables(cfg: MigrationConfig) -> dict[str, int]:
    """Every table a tier claims, with its tier."""
    return {name: t.tier for t in cfg.tiers for name in t.table_names}


def _statement_snapshot(conn: psycopg.Connection) -> list[dict[str, Any]] | None:
    if not perf.statement_stats_available(conn):
        return None
    rows = fetch_all(conn, load_sql("outcome/04_select_statement_write_io.sql"))
    if not conn.autocommit:
        conn.commit()
    return rows


def _io_snapshot(conn: psycopg.Connection, tables: list[str]) -> dict[str, Any]:
    conn.execute("SELECT pg_stat_clear_snapshot()")
    split = [t.split(".", 1) for t in tables]
    row = (
        fetch_one(
            conn,
            load_sql("outcome/05_select_io_counters.sql"),
            {"schemas": [s for s, _ in split], "tables": [n for _, n in split]},
        )
        or {}
    )
    if not conn.autocommit:
        conn.commit()
    return row


def _snapshot(conn: psycopg.Connection, cfg: MigrationConfig, tables: list[str]) -> dict[str, Any]:
    io_tables = tables + [
        f"{cfg.source.schema}.{cfg.source.table}",
        f"{cfg.target_schema}.{cfg.target_table}",
    ]
    return {
        "statements": _statement_snapshot(conn),
        "io": _io_snapshot(conn, io_tables),
        "writes": perf.write_counters(conn, tables),
    }


def _statement_delta(
    before: list[dict[str, Any]], after: list[dict[str, Any]], tables: list[str]
) -> dict[str, Any]:
    """Calls, ms, WAL bytes and blocks of the window per table, and of the app's publish calls."""
    old = {r["queryid"]: r for r in before}
    per_table = {t: {"calls": 0, "ms": 0.0, "wal_bytes": 0.0, "blocks": 0} for t in tables}
    publish = {"calls": 0, "ms": 0.0, "wal_bytes": 0.0, "blocks": 0}
    for row in after:
        b = old.get(row["queryid"], {"calls": 0, "total_ms": 0.0, "wal_bytes": 0.0, "shared_blocks": 0})
        delta = {
            "calls": int(row["calls"]) - int(b["calls"]),
            "ms": float(row["total_ms"]) - float(b["total_ms"]),
            "wal_bytes": float(row["wal_bytes"] or 0) - float(b["wal_bytes"] or 0),
            "blocks": int(row["shared_blocks"] or 0) - int(b["shared_blocks"] or 0),
        }
        if delta["calls"] <= 0:
            continue
        targets = ["publish"] if row["publish"] else perf.statement_tables(row["query"], tables)[:1]
        for target in targets:
            acc = publish if target == "publish" else per_table[target]
            for key, value in delta.items():
                acc[key] += value
    return {"tables": per_table, "publish": publish}


def _write_window(conn: psycopg.Connection, cfg: MigrationConfig, window_s: float) -> dict[str, Any]:
    tables = sorted(logged_tables(cfg))
    first = _snapshot(conn, cfg, tables)
    time.sleep(window_s)
    last = _snapshot(conn, cfg, tables)
    committed = perf.committed_write_delta(first["writes"], last["writes"])
    counted = perf.write_count_delta(first["writes"], last["writes"])
    writes = sum(v if v is not None else counted.get(t, 0) for t, v in committed.items())
    out: dict[str, Any] = {
        "window_s": window_s,
        "app_writes": writes,
        "statements": None,
        "io": {
            "blocks": int(last["io"].get("shared_blocks") or 0) - int(first["io"].get("shared_blocks") or 0),
            "wal_bytes": (
                None
                if last["io"].get("wal_bytes") is None
                else float(last["io"]["wal_bytes"]) - float(first["io"]["wal_bytes"])
            ),
        },
    }
    if first["statements"] is not None and last["statements"] is not None:
        out["statements"] = _statement_delta(first["statements"], last["statements"], tables)
    return out


def _write_latency_row(cfg: MigrationConfig, window: dict[str, Any], probe: dict[str, Any]) -> dict[str, Any]:
    tiers = logged_tables(cfg)
    figures: dict[str, Any] = {
        "probe": {
            "writes_per_table": probe["writes_per_table"],
            "ms": probe["probe_ms"],
            "tables": {t: v.get("median_ms") for t, v in probe["tables"].items()},
            "errors": {t: v["error"] for t, v in probe["tables"].items() if "error" in v},
        },
        "tier_of_table": tiers,
        "window_s": window["window_s"],
    }
    figures["probe"]["tiers"] = _per_tier(figures["probe"]["tables"], tiers)
    stm = window["statements"]
    if stm is None:
        figures["statements"] = {
            "not_measured": "pg_stat_statements is not installed and loaded in this database"
        }
        return {"kind": "write_latency", "method": "probe", "figures": figures}
    calls = sum(v["calls"] for v in stm["tables"].values())
    if calls < MIN_STATEMENT_CALLS:
        figures["statements"] = {
            "not_measured": f"{calls} application writes in the {window['window_s']} s window "
            f"(fewer than {MIN_STATEMENT_CALLS})"
        }
        return {"kind": "write_latency", "method": "probe", "figures": figures}
    write_ms = sum(v["ms"] for v in stm["tables"].values()) / calls
    publish_ms = stm["publish"]["ms"] / calls
    figures["statements"] = {
        "calls": calls,
        "write_ms": round(write_ms, 4),
        "publish_calls": stm["publish"]["calls"],
        "publish_ms_per_write": round(publish_ms, 4),
        "ms": round(write_ms + publish_ms, 4),
        "tables": {
            t: round(v["ms"] / v["calls"], 4) if v["calls"] else None for t, v in stm["tables"].items()
        },
    }
    figures["statements"]["tiers"] = _per_tier(figures["statements"]["tables"], tiers)
    return {"kind": "write_latency", "method": "pg_stat_statements", "figures": figures}


def _per_tier(per_table: dict[str, float | None], tiers: dict[str, int]) -> dict[str, float | None]:
    out: dict[str, list[float]] = {}
    for table, value in per_table.items():
        if value is not None and table in tiers:
            out.setdefault(str(tiers[table]), []).append(value)
    return {k: round(sum(v) / len(v), 4) for k, v in sorted(out.items())}


def _io_row(window: dict[str, Any]) -> dict[str, Any]:
    stm, writes = window["statements"], window["app_writes"]
    if stm is not None:
        calls = sum(v["calls"] for v in stm["tables"].values())
        if calls >= MIN_STATEMENT_CALLS:
            wal = sum(v["wal_bytes"] for v in stm["tables"].values()) + stm["publish"]["wal_bytes"]
            blocks = sum(v["blocks"] for v in stm["tables"].values()) + stm["publish"]["blocks"]
            return {
                "kind": "io_per_write",
                "method": "pg_stat_statements",
                "figures": {
                    "writes": calls,
                    "wal_bytes": round(wal / calls, 1),
                    "shared_blocks": round(blocks / calls, 2),
                    "cpu_ms": round(
                        (sum(v["ms"] for v in stm["tables"].values()) + stm["publish"]["ms"]) / calls, 4
                    ),
                },
            }
    if writes < MIN_STATEMENT_CALLS:
        why = (
            f"{writes} committed application writes in the {window['window_s']} s window (fewer than "
            f"{MIN_STATEMENT_CALLS}): no per-write figure"
        )
        return {"kind": "io_per_write", "method": "none", "figures": {"writes": writes, "not_measured": why}}
    wal = window["io"]["wal_bytes"]
    return {
        "kind": "io_per_write",
        "method": "pg_stat_wal+pg_statio_user_tables",
        "figures": {
            "writes": writes,
            "wal_bytes": None if wal is None else round(wal / writes, 1),
            "wal_scope": "the whole cluster (pg_stat_wal): other databases' writes count too",
            "shared_blocks": round(window["io"]["blocks"] / writes, 2),
            "cpu_ms": None,
            "cpu_not_measured": "needs pg_stat_statements (server execution time per write)",
        },
    }


def query_parameters(conn: psycopg.Connection, cfg: MigrationConfig) -> tuple[dict[str, Any], bool]:
    """The stored choice of the first capture (every sample measures the same thing), or a new one."""
    stored = samples.load(conn, cfg, ["parameters"])
    if stored and stored[0]["figures"].get("user_id"):
        return stored[0]["figures"], False
    return queries.choose_parameters(conn, cfg), True


def capture(
    dsn: str,
    cfg: MigrationConfig,
    ctx: RunContext | None = None,
    *,
    phase: str,
    point: str = "start",
    tier: int | None = None,
    window_s: float | None = None,
    query_runs: int | None = None,
) -> dict[str, Any]:
    """Measure now and store the sample; returns the rows stored (kind, method, figures)."""
    ctx = ctx or RunContext()
    with connection(dsn) as conn:
        window = _write_window(conn, cfg, WINDOW_S if window_s is None else window_s)
        probe = perf.probe_write_latency(conn, sorted(logged_tables(cfg)), PROBE_WRITES)
        params, new = query_parameters(conn, cfg)
        reads = queries.measure_all(conn, cfg, params, QUERY_RUNS if query_runs is None else query_runs)
        rows = [
            _write_latency_row(cfg, window, probe),
            _io_row(window),
            {
                "kind": "read_queries",
                "method": "client-timed runs + EXPLAIN (ANALYZE, BUFFERS)",
                "figures": {"parameters": params, "queries": reads},
            },
        ]
        if new:
            rows.append(
                {"kind": "parameters", "method": params.get("chosen_from", "none"), "figures": params}
            )
        sample_id = samples.store(conn, cfg, rows, phase=phase, point=point, ctx=ctx, tier=tier)
    return {
        "sample_id": sample_id,
        "phase": phase,
        "point": point,
        "tier": tier,
        "rows": {r["kind"]: {"method": r["method"], "figures": r["figures"]} for r in rows},
    }
