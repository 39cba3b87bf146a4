"""Phase 5's sensors and their measurements: windows kept in the database, the write cost of a
tier's tables (before and after the drop) and the event flow (committed writes vs the
application's events). Each poke answers pass, wait or fail."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from .. import ledger, perf, tiers
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
    """Open a window (returns (None, new)) or, once ``window_s`` has passed, close it (returns (start, end))."""
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


def entity_types_of_tier(conn: psycopg.Connection, cfg: MigrationConfig, tier: int) -> list[str]:
    st = tiers.tier_states(conn, cfg).get(tier) or {}
    return list((st.get("details") or {}).get("entity_types") or [])


def event_flow_poke(
    dsn: str, cfg: MigrationConfig, ctx: RunContext, tier: int, *, window_s: float, min_ratio: float
) -> Verdict:
    """After the drop: committed writes to the tier's tables vs events the application published.

    Writes are committed ones only (``perf.committed_write_delta``: rolled-back writes, our own
    probe's included, never count), per table. A window closes after ``window_s`` and at least
    ``MIN_EVENT_FLOW_WRITES`` writes: with fewer it stays open (up to the sensor's timeout) so a
    ratio is never judged on a handful of writes. ``fail`` when activity went missing (see
    :func:`judge_event_flow`); the tier's triggers are then restored from the backup at once.
    """
    tables = _tier_tables(dsn, cfg, tier)
    run_key = ctx.dag_run_id or "manual"
    with connection(dsn) as conn:
        entity_types = entity_types_of_tier(conn, cfg, tier)
        by_table = ((tiers.tier_states(conn, cfg).get(tier) or {}).get("details") or {}).get(
            "entity_types_by_table"
        )
    if not entity_types:
        raise PreflightError(
            f"tier {tier}: no entity types recorded for its triggers (the baseline step records "
            "them while the triggers exist); cannot judge the event flow"
        )
    with connection(dsn, autocommit=True) as conn:
        now = {"counters": perf.write_counters(conn, tables)}
    with connection(dsn) as conn:
        row = _window(conn, cfg, tier, "event_flow", run_key)
        if row is None:
            _open_window(conn, cfg, tier, "event_flow", run_key, now)
            return Verdict(
                "wait", f"tier {tier}: counting committed writes and events from {now['counters']['at']}"
            )
        start = row["details"]["counters"]
        if perf.seconds_between(start["at"], now["counters"]["at"]) < window_s:
            return Verdict("wait", f"tier {tier}: window of {window_s:g} s open since {start['at']}")
        committed = perf.committed_write_delta(start, now["counters"])
        reset = sorted(t for t, v in committed.items() if v is None)
        if reset:
            _open_window(conn, cfg, tier, "event_flow", run_key, now)
            return Verdict(
                "wait",
                f"tier {tier}: {', '.join(reset)} analyzed during the window (the committed-write "
                "counter restarted): measuring again",
            )
        total = sum(v or 0 for v in committed.values())
        if total < MIN_EVENT_FLOW_WRITES:
            return Verdict(
                "wait",
                f"tier {tier}: {total} committed writes since {start['at']}; the ratio is judged "
                f"from {MIN_EVENT_FLOW_WRITES} on: the window stays open",
            )
        _open_window(conn, cfg, tier, "event_flow", run_key, now)  # the next window starts here
    verdict = judge_event_flow(
        dsn, cfg, tier, start, now["counters"], entity_types, min_ratio, run_key, by_table=by_table
    )
    if verdict.state == "fail":
        from .p5_handover import restore_on_missing_activity

        restored = restore_on_missing_activity(dsn, cfg, ctx, tier, verdict.figures)
        verdict = Verdict(
            "fail",
            verdict.message + f"; the tier's triggers were restored from the backup at "
            f"{restored['at']} (tier 'restored', drop recorded as failed)",
            {**verdict.figures, "restored": restored["restored"]},
        )
    return verdict


# Table counters reach pg_stat_user_tables after the writing transaction ends, up to ~1 s late
# (backends flush at most once a second). A write counted in a window's delta therefore
# happened up to that long before the window opened, and its event (created_at = the start
# of its transaction) earlier still by the transaction's duration. Counting events from this
# much before the window keeps "every write published" from ever reading as a loss; the
# price is an upward bias of at most a few seconds of writes, small against the default
# 120 s window and far from what a table the application does not publish for reads (0).
EVENT_FLOW_LAG_MARGIN_S = 2.0


# Below this many committed writes in a window the events/writes ratio means little: wait.
MIN_EVENT_FLOW_WRITES = 30


# A table's own ratio is judged from this many writes on; below, only a table with writes
# and no event at all (from 3 writes) counts as missing.
MIN_TABLE_WRITES = 10


def judge_event_flow(
    dsn: str,
    cfg: MigrationConfig,
    tier: int,
    c0: dict,
    c1: dict,
    entity_types: list[str],
    min_ratio: float,
    run_key: str = "manual",
    *,
    by_table: dict[str, Any] | None = None,
) -> Verdict:
    """Events the application published vs the tier's writes between two counter snapshots.

    Per table: committed writes where the counters allow it (else the raw row counts, which
    include rolled-back rows, and the figures say so) against the events of the entity types
    that table's triggers logged. ``fail`` when the tier's ratio is below ``min_ratio``, or a
    table with enough writes is below it, or a table has writes and no event at all.
    """
    committed = perf.committed_write_delta(c0, c1)
    raw = perf.write_count_delta(c0, c1)
    writes = {t: committed[t] if committed.get(t) is not None else raw[t] for t in raw}
    total = sum(writes.values())
    events_from = (datetime.fromisoformat(c0["at"]) - timedelta(seconds=EVENT_FLOW_LAG_MARGIN_S)).isoformat()
    with connection(dsn) as conn:
        by_type = perf.service_event_counts(conn, cfg, entity_types, events_from, c1["at"])
    events = sum(by_type.values())
    tables: dict[str, dict[str, Any]] = {}
    for t, w in writes.items():
        types = ((by_table or {}).get(t) or {}).get("entity_types")
        e = sum(by_type.get(x, 0) for x in types) if types else None
        tables[t] = {
            "writes": w,
            "events": e,
            "ratio": round(e / w, 4) if (w and e is not None) else None,
            "method": perf.COMMITTED_WRITES_METHOD
            if committed.get(t) is not None
            else "n_tup_ins + n_tup_upd + n_tup_del delta (rolled-back rows included)",
        }
    ratio = round(events / total, 4) if total else None
    missing = sorted(
        t
        for t, v in tables.items()
        if v["events"] is not None
        and (
            (v["writes"] >= MIN_TABLE_WRITES and v["events"] / v["writes"] < min_ratio)
            or (v["writes"] >= 3 and v["events"] == 0)
        )
    )
    figures = {
        "window": {
            "from": c0["at"],
            "to": c1["at"],
            "seconds": round(perf.seconds_between(c0["at"], c1["at"]), 3),
            "events_from": events_from,
        },
        "writes": writes,
        "writes_total": total,
        "events": events,
        "entity_types": entity_types,
        "tables": tables,
        "ratio": ratio,
        "min_ratio": min_ratio,
        "missing_tables": missing,
        "min_writes": MIN_EVENT_FLOW_WRITES,
        "run_key": run_key,
    }
    shown = ", ".join(f"{t}: {v['events']}/{v['writes']}" for t, v in tables.items())
    if total == 0:
        verdict = Verdict(
            "wait",
            f"tier {tier}: no writes to {', '.join(writes) or 'its tables'} in the window: "
            "no evidence yet (not a pass)",
            figures,
        )
    elif ratio < min_ratio or missing:
        where = ", ".join(missing) if missing else ", ".join(sorted(writes))
        verdict = Verdict(
            "fail",
            f"tier {tier}: activity went missing on {where}: {events} events for {total} "
            f"committed writes (ratio {ratio}, minimum {min_ratio}; events/writes per table: "
            f"{shown}); the application does not publish for these tables",
            figures,
        )
    else:
        verdict = Verdict(
            "pass", f"tier {tier}: {events} events for {total} writes (ratio {ratio}; {shown})", figures
        )
    with connection(dsn) as conn:
        _record_sample(
            conn, cfg, "event_flow", tier, "event_ratio", ratio, {**figures, "state": verdict.state}
        )
        conn.commit()
    return verdict
