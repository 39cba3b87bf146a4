"""Phase 5's event-flow sensor: after a tier's drop, do the committed writes to its tables still
produce events (the application publishes now)? A poke answers pass, wait or fail; a fail puts
the tier's triggers back from the backup at once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg

from .. import perf, tiers
from ..config import MigrationConfig
from ..db import connection
from ..errors import PreflightError
from ..ledger import RunContext
from .p5_sensors import Verdict, _open_window, _record_sample, _tier_tables, _window

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
    entity_types, by_table = _recorded_entity_types(dsn, cfg, tier)
    window = _close_event_flow_window(dsn, cfg, tier, tables, run_key, window_s)
    if isinstance(window, Verdict):
        return window
    start, end = window
    verdict = judge_event_flow(
        dsn, cfg, tier, start, end, entity_types, min_ratio, run_key, by_table=by_table
    )
    if verdict.state == "fail":
        verdict = _restore_on_fail(dsn, cfg, ctx, tier, verdict)
    return verdict


def _recorded_entity_types(dsn: str, cfg: MigrationConfig, tier: int) -> tuple[list[str], Any]:
    """The entity types the tier's triggers logged (all, and per table), as the baseline recorded them."""
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
    return entity_types, by_table


def _close_event_flow_window(
    dsn: str, cfg: MigrationConfig, tier: int, tables: list[str], run_key: str, window_s: float
) -> Verdict | tuple[dict[str, Any], dict[str, Any]]:
    """The closed window's (start, end) counters, or a ``wait`` verdict while it stays open."""
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
    return start, now["counters"]


def _restore_on_fail(dsn: str, cfg: MigrationConfig, ctx: RunContext, tier: int, verdict: Verdict) -> Verdict:
    """Activity went missing: the tier's triggers back from the backup; the verdict says so."""
    from .p5_handover import restore_on_missing_activity

    restored = restore_on_missing_activity(dsn, cfg, ctx, tier, verdict.figures)
    return Verdict(
        "fail",
        verdict.message + f"; the tier's triggers were restored from the backup at "
        f"{restored['at']} (tier 'restored', drop recorded as failed)",
        {**verdict.figures, "restored": restored["restored"]},
    )


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
    writes = _writes_per_table(committed, perf.write_count_delta(c0, c1))
    total = sum(writes.values())
    events_from = (datetime.fromisoformat(c0["at"]) - timedelta(seconds=EVENT_FLOW_LAG_MARGIN_S)).isoformat()
    with connection(dsn) as conn:
        by_type = perf.service_event_counts(conn, cfg, entity_types, events_from, c1["at"])
    events = sum(by_type.values())
    tables = _table_flows(writes, committed, by_type, by_table)
    ratio = round(events / total, 4) if total else None
    missing = _missing_tables(tables, min_ratio)
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
    verdict = _event_flow_verdict(tier, figures)
    with connection(dsn) as conn:
        _record_sample(
            conn, cfg, "event_flow", tier, "event_ratio", ratio, {**figures, "state": verdict.state}
        )
        conn.commit()
    return verdict


def _writes_per_table(committed: dict[str, Any], raw: dict[str, int]) -> dict[str, int]:
    """Committed writes per table where the counters allow it, else the raw row counts."""
    return {t: committed[t] if committed.get(t) is not None else raw[t] for t in raw}


def _table_flows(
    writes: dict[str, int],
    committed: dict[str, Any],
    by_type: dict[str, int],
    by_table: dict[str, Any] | None,
) -> dict[str, dict[str, Any]]:
    """Per table: its writes, the events of the entity types its triggers logged, their ratio."""
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
    return tables


def _missing_tables(tables: dict[str, dict[str, Any]], min_ratio: float) -> list[str]:
    """Tables with enough writes below ``min_ratio``, or with writes and no event at all."""
    return sorted(
        t
        for t, v in tables.items()
        if v["events"] is not None
        and (
            (v["writes"] >= MIN_TABLE_WRITES and v["events"] / v["writes"] < min_ratio)
            or (v["writes"] >= 3 and v["events"] == 0)
        )
    )


def _event_flow_verdict(tier: int, figures: dict[str, Any]) -> Verdict:
    """``wait`` without writes, ``fail`` when activity went missing, else ``pass``."""
    writes, total, events = figures["writes"], figures["writes_total"], figures["events"]
    ratio, min_ratio, missing = figures["ratio"], figures["min_ratio"], figures["missing_tables"]
    shown = ", ".join(f"{t}: {v['events']}/{v['writes']}" for t, v in figures["tables"].items())
    if total == 0:
        return Verdict(
            "wait",
            f"tier {tier}: no writes to {', '.join(writes) or 'its tables'} in the window: "
            "no evidence yet (not a pass)",
            figures,
        )
    if ratio < min_ratio or missing:
        where = ", ".join(missing) if missing else ", ".join(sorted(writes))
        return Verdict(
            "fail",
            f"tier {tier}: activity went missing on {where}: {events} events for {total} "
            f"committed writes (ratio {ratio}, minimum {min_ratio}; events/writes per table: "
            f"{shown}); the application does not publish for these tables",
            figures,
        )
    return Verdict(
        "pass", f"tier {tier}: {events} events for {total} writes (ratio {ratio}; {shown})", figures
    )
