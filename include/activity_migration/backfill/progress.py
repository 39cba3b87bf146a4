"""Backfill progress from the chunk ledger: rows done / total, rate, ETA; the status section."""

from __future__ import annotations

from typing import Any

import psycopg

from .. import ledger
from ..config import MigrationConfig
from ..db import fetch_all, fetch_one, load_sql
from .controller import BASELINE_SETTING
from .planner import PLAN_SETTING
from .throttle import SETTING_KEY as THROTTLE_SETTING

RATE_WINDOW_S = 300


def snapshot(conn: psycopg.Connection, cfg: MigrationConfig) -> dict[str, Any]:
    """Chunk counts by status, rows done, total, rows/s over the last minutes, ETA in seconds."""
    chunks = ledger.state_table(cfg, "backfill_chunks")
    row = (
        fetch_one(
            conn, load_sql("p4_backfill/15_summarize_progress.sql", chunks=chunks), {"w": RATE_WINDOW_S}
        )
        or {}
    )
    plan = ledger.get_setting(conn, PLAN_SETTING, {}, cfg=cfg) or {}
    done_rows = int(row.get("rows_copied") or 0) + int(row.get("rows_quarantined") or 0)
    total = int(plan.get("total_rows") or 0) or done_rows
    rate = (float(row["recent_rows"]) / row["recent_s"]) if row.get("recent_s") else None
    remaining = max(0, total - done_rows)
    return {
        "chunks": int(row.get("chunks") or 0),
        "chunks_done": int(row.get("done") or 0),
        "chunks_running": int(row.get("running") or 0),
        "chunks_pending": int(row.get("pending") or 0),
        "chunks_failed": int(row.get("failed") or 0),
        "rows_copied": int(row.get("rows_copied") or 0),
        "rows_quarantined": int(row.get("rows_quarantined") or 0),
        "rows_done": done_rows,
        "rows_total": total,
        "percent": round(100.0 * done_rows / total, 1) if total else (100.0 if row.get("chunks") else 0.0),
        "rows_per_s": round(rate, 1) if rate else None,
        "eta_s": round(remaining / rate, 1) if rate and remaining else (0.0 if not remaining else None),
        "latency": latency(conn, cfg),
    }


def latency(conn: psycopg.Connection, cfg: MigrationConfig) -> dict[str, Any]:
    """The latency controller: idle baseline, newest decision, ratios and actions over the window."""
    row = fetch_one(
        conn,
        load_sql(
            "p4_backfill/22_select_recent_control.sql", chunks=ledger.state_table(cfg, "backfill_chunks")
        ),
        {"w": RATE_WINDOW_S},
    )
    out: dict[str, Any] = {"baseline": ledger.get_setting(conn, BASELINE_SETTING, None, cfg=cfg)}
    if row:
        out.update({k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()})
    return out


def describe_latency(lat: dict[str, Any] | None) -> str:
    """``app p95 3.1 ms = 1.21x idle 2.6 ms (probe), objective ... last: faster, yield 0.35``."""
    if not lat or lat.get("app_latency_ratio") is None:
        return "app latency n/a"
    base = lat.get("baseline") or {}
    return (
        f"app p95 {lat['app_p95_ms']:.1f} ms = {lat['app_latency_ratio']:.2f}x idle "
        f"{base.get('p95_ms', float('nan')):.1f} ms ({base.get('source', '?')}), "
        f"max {lat.get('max_ratio') or 0:.2f}x over {RATE_WINDOW_S // 60} min, "
        f"last {lat['throttle_action']}, yield {lat['yield_ratio']:.2f}"
    )


def describe(p: dict[str, Any], *, with_latency: bool = True) -> str:
    rate = f"{p['rows_per_s']:.0f} rows/s" if p.get("rows_per_s") else "rate n/a"
    eta = f"ETA {p['eta_s']:.0f} s" if p.get("eta_s") is not None else "ETA n/a"
    return (
        f"progress {p['rows_done']}/{p['rows_total']} rows ({p['percent']}%), "
        f"chunks {p['chunks_done']}/{p['chunks']} done, {p['chunks_running']} running, "
        f"{p['chunks_failed']} failed, {rate}, {eta}"
        + (f"; {describe_latency(p.get('latency'))}" if with_latency else "")
    )


def quarantine_by_reason(conn: psycopg.Connection, cfg: MigrationConfig) -> dict[str, int]:
    rows = fetch_all(
        conn,
        load_sql(
            "p4_backfill/16_count_quarantine_by_reason.sql", quarantine=ledger.state_table(cfg, "quarantine")
        ),
    )
    return {r["reason"]: int(r["n"]) for r in rows}


def backfill_section(conn: psycopg.Connection, cfg: MigrationConfig) -> dict[str, Any]:
    """Status section: progress of the backfill, quarantine by reason, live throttle overrides."""
    if not ledger.state_schema_exists(conn, cfg):
        return {"state": "not started (no state schema)"}
    p = snapshot(conn, cfg)
    if not p["chunks"]:
        return {"state": "not planned yet"}
    state = (
        "done"
        if p["chunks_done"] == p["chunks"]
        else "failed chunks"
        if p["chunks_failed"]
        else "copying"
        if p["chunks_running"]
        else "planned / stopped"
    )
    return {
        "state": state,
        "progress": describe(p),
        **p,
        "quarantine_by_reason": quarantine_by_reason(conn, cfg),
        "throttle_overrides": ledger.get_setting(conn, THROTTLE_SETTING, {}, cfg=cfg),
    }
