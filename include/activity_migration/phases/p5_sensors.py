"""Phase 5's sensors and their measurements: windows kept in the database and the write cost of a
tier's tables (before and after the drop). Each poke answers pass, wait or fail. The event flow
(committed writes vs the application's events) is ``p5_event_flow``, on these windows."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from .. import ledger, perf
from ..config import MigrationConfig
from ..db import connection, fetch_one, load_sql
from ..errors import PreflightError
from ..ledger import RunContext

log = logging.getLogger(__name__)


# Below this many statements in a window, pg_stat_statements means are noise: use the probe.
MIN_STATEMENT_CALLS = 20


@dataclass
class Verdict:
    """What a sensor poke concluded: ``pass``, ``wait`` (poke again) or ``fail`` (stop now)."""

    state: str
    message: str
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.state == "pass"

    def as_dict(self) -> dict[str, Any]:
        return {"state": self.state, "message": self.message, "figures": self.figures}


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


def _jsonable(obj: Any) -> Any:
    import json

    return json.loads(ledger.dumps(obj))


def _record_sample(
    conn: psycopg.Connection,
    cfg: MigrationConfig,
    purpose: str,
    tier: int,
    metric: str,
    value: float | None,
    details: dict[str, Any],
    table: str | None = None,
) -> None:
    conn.execute(
        load_sql("p5_trigger_removal/10_insert_perf_sample.sql", state=cfg.state_schema),
        {
            "purpose": purpose,
            "tier": tier,
            "table_name": table,
            "metric": metric,
            "value": value,
            "details": Jsonb(_jsonable(details)),
        },
    )


def _latest_sample(
    conn: psycopg.Connection,
    cfg: MigrationConfig,
    purpose: str,
    tier: int,
    metric: str,
    run_key: str | None = None,
) -> dict[str, Any] | None:
    return fetch_one(
        conn,
        load_sql("p5_trigger_removal/11_select_latest_sample.sql", state=cfg.state_schema),
        {"purpose": purpose, "tier": tier, "metric": metric, "run_key": run_key},
    )


def _measure_window(dsn: str, tables: list[str], window_s: float, probe_writes: int) -> dict[str, Any]:
    """Counters and statement costs over ``window_s`` seconds of application traffic, then the probe."""
    with connection(dsn, autocommit=True) as conn:
        c0, s0 = perf.write_counters(conn, tables), perf.statement_costs(conn, tables)
    time.sleep(window_s)
    with connection(dsn, autocommit=True) as conn:
        c1, s1 = perf.write_counters(conn, tables), perf.statement_costs(conn, tables)
    with connection(dsn) as conn:
        probe = perf.probe_write_latency(conn, tables, probe_writes)
    return _window_figures(c0, c1, s0, s1, probe)


def _window_figures(c0: dict, c1: dict, s0: dict | None, s1: dict | None, probe: dict) -> dict[str, Any]:
    writes = perf.write_count_delta(c0, c1)
    seconds = max(perf.seconds_between(c0["at"], c1["at"]), 1e-6)
    stmts = perf.statement_cost_delta(s0, s1)
    return {
        "window": {"from": c0["at"], "to": c1["at"], "seconds": round(seconds, 3)},
        "writes": writes,
        "writes_total": sum(writes.values()),
        "writes_per_s": round(sum(writes.values()) / seconds, 3),
        "statements": stmts,
        "probe": probe,
        "probe_ms": probe.get("probe_ms"),
        "statement_mean_ms": (stmts or {}).get("mean_ms"),
        "statement_calls": (stmts or {}).get("calls", 0),
    }


def _method(figures: dict[str, Any]) -> str:
    return (
        "pg_stat_statements"
        if (
            figures.get("statement_mean_ms") is not None
            and figures.get("statement_calls", 0) >= MIN_STATEMENT_CALLS
        )
        else "probe"
    )


def _headline(figures: dict[str, Any]) -> float | None:
    return (
        figures["statement_mean_ms"] if _method(figures) == "pg_stat_statements" else figures.get("probe_ms")
    )


def _window(
    conn: psycopg.Connection, cfg: MigrationConfig, tier: int, kind: str, run_key: str
) -> dict[str, Any] | None:
    return fetch_one(
        conn,
        load_sql("p5_trigger_removal/12_select_open_window.sql", state=cfg.state_schema),
        {"tier": tier, "kind": kind, "run_key": run_key},
    )


def _open_window(
    conn: psycopg.Connection,
    cfg: MigrationConfig,
    tier: int,
    kind: str,
    run_key: str,
    snapshot: dict[str, Any],
) -> None:
    conn.execute(
        load_sql("p5_trigger_removal/13_delete_window.sql", state=cfg.state_schema),
        {"tier": tier, "kind": kind, "run_key": run_key},
    )
    _record_sample(conn, cfg, "window", tier, kind, None, {"run_key": run_key, **snapshot})
    conn.commit()


def _windowed(
    dsn: str, cfg: MigrationConfig, tier: int, kind: str, run_key: str, window_s: float, snap: Any
) -> tuple[dict | None, dict]:
    """Open a window (returns (None, new)) or, once ``window_s`` has passed, close it (returns
    (start, end))."""
    with connection(dsn, autocommit=True) as conn:
        now = snap(conn)
    with connection(dsn) as conn:
        row = _window(conn, cfg, tier, kind, run_key)
        if row is None:
            _open_window(conn, cfg, tier, kind, run_key, now)
            return None, now
        start = row["details"]
        if perf.seconds_between(start["counters"]["at"], now["counters"]["at"]) < window_s:
            return None, start
        _open_window(conn, cfg, tier, kind, run_key, now)  # the next window starts where this one ended
        return start, now


def _tier_tables(dsn: str, cfg: MigrationConfig, tier: int) -> list[str]:
    return cfg.tier(tier).table_names


def performance_poke(
    dsn: str,
    cfg: MigrationConfig,
    ctx: RunContext,
    tier: int,
    *,
    window_s: float,
    max_regression_pct: float,
    probe_writes: int,
) -> Verdict:
    """After the drop: the tier's write cost over a window vs the baseline; pass unless it regressed.

    A regression beyond ``max_regression_pct`` answers ``wait`` (measure again next window):
    one noisy window does not fail the tier, a persistent regression runs into the sensor's
    timeout, which fails the run and sends the alert with these figures.
    """
    tables = _tier_tables(dsn, cfg, tier)
    run_key = ctx.dag_run_id or "manual"

    def snap(conn: psycopg.Connection) -> dict[str, Any]:
        return {
            "counters": perf.write_counters(conn, tables),
            "statements": perf.statement_costs(conn, tables),
        }

    start, end = _windowed(dsn, cfg, tier, "perf", run_key, window_s, snap)
    if start is None:
        return Verdict(
            "wait",
            f"tier {tier}: measuring write cost, window of {window_s:g} s open since {end['counters']['at']}",
        )
    with connection(dsn) as conn:
        probe = perf.probe_write_latency(conn, tables, probe_writes)
        base_row = _latest_sample(conn, cfg, "baseline", tier, "write_cost")
    if base_row is None:
        raise PreflightError(
            f"tier {tier} has no baseline (purpose 'baseline' in {cfg.state_schema}.perf_samples)"
        )
    after = _window_figures(start["counters"], end["counters"], start["statements"], end["statements"], probe)
    verdict = compare_write_cost(base_row["details"], after, max_regression_pct)
    after.update(tier=tier, run_key=run_key, comparison=verdict.figures, taken_at=_now_iso())
    with connection(dsn) as conn:
        _record_sample(conn, cfg, "after_drop", tier, "write_cost", verdict.figures.get("after"), after)
        conn.commit()
    return verdict


def compare_write_cost(base: dict[str, Any], after: dict[str, Any], max_regression_pct: float) -> Verdict:
    """Compare like with like: statement means when both windows had enough statements, else the probe."""
    method = (
        "pg_stat_statements"
        if (_method(base) == "pg_stat_statements" and _method(after) == "pg_stat_statements")
        else "probe"
    )
    key = "statement_mean_ms" if method == "pg_stat_statements" else "probe_ms"
    before_v, after_v = base.get(key), after.get(key)
    if not before_v or after_v is None:
        return Verdict(
            "wait",
            f"no comparable {method} figure yet (baseline {before_v}, after {after_v})",
            {"method": method, "before": before_v, "after": after_v},
        )
    change = (after_v / before_v - 1.0) * 100.0
    figures = {
        "method": method,
        "metric": key,
        "before": before_v,
        "after": after_v,
        "change_pct": round(change, 2),
        "improvement_pct": round(-change, 2),
        "max_regression_pct": max_regression_pct,
        "probe_before_ms": base.get("probe_ms"),
        "probe_after_ms": after.get("probe_ms"),
        "statement_before_ms": base.get("statement_mean_ms"),
        "statement_after_ms": after.get("statement_mean_ms"),
        "writes_per_s_before": base.get("writes_per_s"),
        "writes_per_s_after": after.get("writes_per_s"),
    }
    if change > max_regression_pct:
        return Verdict(
            "wait",
            f"write cost regressed {change:.1f}% ({before_v} -> {after_v} ms, {method}); "
            f"allowed {max_regression_pct}%: measuring again",
            figures,
        )
    return Verdict(
        "pass", f"write cost {before_v} -> {after_v} ms ({method}): {-change:.1f}% improvement", figures
    )
