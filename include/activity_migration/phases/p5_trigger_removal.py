"""Phase 5: remove the legacy logging triggers tier by tier, each watched by sensors.

One call per step of one tier, in this order (the DAG runs one tier per run)::

    validate            discover the logging triggers; every one claimed by a tier, every tier table logged
    gate_previous_tier  tier N-1 verified; tier N already verified -> nothing to do
    baseline            write cost of the tier's tables before the drop (+ the entity types they log)
    backup              trigger and function DDL into {state}.ddl_backups
    approval_evidence   Markdown for the approval: triggers, baseline, parity
    apply (drop)        DROP TRIGGER ... in one transaction under lock_timeout; tier 'dropped'
    performance_poke    write cost after the drop vs the baseline (no regression beyond a threshold)
    event_flow_poke     writes to the tier's tables still produce events (the app publishes now)
    verify (record_done) tier 'verified' with the measured improvement
    rollback            recreate the tier's triggers and functions exactly as backed up

Sensor windows live in the database (``{state}.perf_samples`` purpose ``window``), not in
the sensor process, so a sensor in reschedule mode (a new process per poke) or a fresh
Airflow picks up where the last poke left off. Every measurement is a row in
``perf_samples``: purpose ``baseline``, ``after_drop`` or ``event_flow``.
"""
from __future__ import annotations

import html
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from .. import ledger, perf, tiers
from ..config import MigrationConfig, load_config
from ..db import connection, fetch_one
from ..errors import GateClosed, MigrationError, PreflightError
from ..ledger import RunContext, state_table

PHASE = tiers.PHASE
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


def _record_sample(conn: psycopg.Connection, cfg: MigrationConfig, purpose: str, tier: int, metric: str,
                   value: float | None, details: dict[str, Any], table: str | None = None) -> None:
    conn.execute(sql.SQL("INSERT INTO {} (purpose, tier, table_name, metric, value, details) "
                         "VALUES (%s, %s, %s, %s, %s, %s)").format(state_table(cfg, "perf_samples")),
                 (purpose, tier, table, metric, value, Jsonb(_jsonable(details))))


def _latest_sample(conn: psycopg.Connection, cfg: MigrationConfig, purpose: str, tier: int, metric: str,
                   run_key: str | None = None) -> dict[str, Any] | None:
    q = sql.SQL("SELECT * FROM {} WHERE purpose = %s AND tier = %s AND metric = %s AND table_name IS NULL "
                "AND (%s::text IS NULL OR details->>'run_key' = %s::text) ORDER BY id DESC LIMIT 1"
                ).format(state_table(cfg, "perf_samples"))
    return fetch_one(conn, q, (purpose, tier, metric, run_key, run_key))


def _tier_details(conn: psycopg.Connection, cfg: MigrationConfig, tier: int, details: dict[str, Any]) -> None:
    """Merge ``details`` into the tier's row without touching its status (creates it as 'pending')."""
    conn.execute(sql.SQL(
        "INSERT INTO {} (tier, status, details) VALUES (%s, 'pending', %s) "
        "ON CONFLICT (tier) DO UPDATE SET details = {}.details || EXCLUDED.details, updated_at = clock_timestamp()"
    ).format(state_table(cfg, "tier_state"), state_table(cfg, "tier_state")), (tier, Jsonb(_jsonable(details))))


# --- discovery and gates ----------------------------------------------------------------------------------

def validate(dsn: str, cfg: MigrationConfig | None = None, ctx: RunContext | None = None,
             tier: int | None = None) -> dict[str, Any]:
    """Discover the logging triggers and their tiers; PreflightError names any unclaimed trigger or table."""
    cfg = cfg or load_config()
    with connection(dsn) as conn:
        plans = tiers.plan_tiers(conn, cfg)
    if tier is not None:
        cfg.tier(tier)
        return plans[tier].as_dict()
    return {"tiers": [p.as_dict() for p in plans.values()],
            "triggers": sum(len(p.triggers) for p in plans.values())}


def gate_previous_tier(dsn: str, cfg: MigrationConfig, ctx: RunContext, tier: int) -> dict[str, Any]:
    """Allow tier N only after tier N-1 is verified; ``proceed`` False when tier N is already verified."""
    cfg.tier(tier)
    with ledger.step(dsn, PHASE, f"tier_{tier}_gate", ctx, cfg, {"tier": tier}) as out:
        with connection(dsn) as conn:
            states = tiers.tier_states(conn, cfg)
        mine = (states.get(tier) or {}).get("status", "pending")
        out["status"] = mine
        if mine == "verified":
            out.update(proceed=False, reason=f"tier {tier} is already dropped and verified: nothing to do")
            return out
        previous = [t.tier for t in cfg.tiers if t.tier < tier]
        if previous:
            prev = previous[-1]
            prev_status = (states.get(prev) or {}).get("status", "pending")
            out["previous_tier"] = {"tier": prev, "status": prev_status}
            if prev_status != "verified":
                raise GateClosed(f"tier {tier} may start only after tier {prev} is verified "
                                 f"(dropped and its sensors passed); tier {prev} is '{prev_status}'")
        out.update(proceed=True, reason=f"tier {tier} is '{mine}'" + (
            "; its triggers are already dropped: the run resumes with the sensors" if mine == "dropped" else ""))
    return out


# --- baseline ---------------------------------------------------------------------------------------------

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
    return {"window": {"from": c0["at"], "to": c1["at"], "seconds": round(seconds, 3)},
            "writes": writes, "writes_total": sum(writes.values()),
            "writes_per_s": round(sum(writes.values()) / seconds, 3),
            "statements": stmts, "probe": probe,
            "probe_ms": probe.get("probe_ms"),
            "statement_mean_ms": (stmts or {}).get("mean_ms"),
            "statement_calls": (stmts or {}).get("calls", 0)}


def baseline(dsn: str, cfg: MigrationConfig, ctx: RunContext, tier: int, *, window_s: float = 60,
             probe_writes: int = 100) -> dict[str, Any]:
    """Measure the tier's write cost with its triggers in place; store it as purpose 'baseline'.

    Also records which entity types the tier's triggers log (``tier_state.details.entity_types``),
    observed by a rolled-back insert per table: the event-flow sensor counts those. A tier
    already dropped keeps its earlier baseline (measuring now would measure the result).
    """
    with ledger.step(dsn, PHASE, f"tier_{tier}_baseline", ctx, cfg, {"tier": tier}) as out:
        with connection(dsn) as conn:
            ledger.ensure_state_schema(conn, cfg)
            plan = tiers.plan_tier(conn, cfg, tier)
            existing = _latest_sample(conn, cfg, "baseline", tier, "write_cost")
            if plan.done or (not plan.triggers and existing):
                if not existing:
                    raise PreflightError(f"tier {tier} is '{plan.status}' but has no baseline: nothing to compare with")
                out.update(reused=True, **existing["details"])
                return out
            entity = perf.logged_entity_types(conn, cfg, list(plan.tables))
        figures = _measure_window(dsn, list(plan.tables), window_s, probe_writes)
        entity_types = sorted({e for v in entity.values() for e in v["entity_types"]})
        figures.update(tier=tier, run_key=ctx.dag_run_id, entity_types=entity_types, entity_types_by_table=entity,
                       method=_method(figures), taken_at=_now_iso())
        with connection(dsn) as conn:
            _record_sample(conn, cfg, "baseline", tier, "write_cost", _headline(figures), figures)
            for table, p in figures["probe"]["tables"].items():
                if "median_ms" in p:
                    _record_sample(conn, cfg, "baseline", tier, "probe_median_ms", p["median_ms"], p, table)
            _tier_details(conn, cfg, tier, {"entity_types": entity_types, "entity_types_by_table": entity,
                                            "name": plan.name, "tables": list(plan.tables)})
            conn.commit()
        out.update(figures)
    return out


def _method(figures: dict[str, Any]) -> str:
    return "pg_stat_statements" if (figures.get("statement_mean_ms") is not None
                                    and figures.get("statement_calls", 0) >= MIN_STATEMENT_CALLS) else "probe"


def _headline(figures: dict[str, Any]) -> float | None:
    return figures["statement_mean_ms"] if _method(figures) == "pg_stat_statements" else figures.get("probe_ms")


# --- backup, evidence, drop -------------------------------------------------------------------------------

def backup(dsn: str, cfg: MigrationConfig, ctx: RunContext, tier: int) -> dict[str, Any]:
    """Back up the tier's triggers and functions (idempotent; a dropped tier keeps its backup)."""
    with ledger.step(dsn, PHASE, f"tier_{tier}_backup", ctx, cfg, {"tier": tier}) as out:
        with connection(dsn) as conn:
            out.update(tiers.backup_tier(conn, cfg, tiers.plan_tier(conn, cfg, tier)))
    return out


def _latest_parity(conn: psycopg.Connection, cfg: MigrationConfig) -> dict[str, Any] | None:
    return fetch_one(conn, sql.SQL("SELECT suite, success, statistics, run_at, environment FROM {} "
                                   "WHERE suite = 'parity' ORDER BY run_at DESC LIMIT 1").format(
        state_table(cfg, "validation_results")))


def approval_evidence(dsn: str, cfg: MigrationConfig, ctx: RunContext, tier: int) -> str:
    """Markdown for the tier's approval: what will be dropped, the baseline, the latest parity result."""
    with connection(dsn) as conn:
        plan = tiers.plan_tier(conn, cfg, tier)
        base = _latest_sample(conn, cfg, "baseline", tier, "write_cost")
        parity = _latest_parity(conn, cfg)
        backed = tiers.backups(conn, cfg, "trigger", tier=tier)
        from ._common import dual_write_enabled
        try:
            dual = dual_write_enabled(conn, cfg)
        except psycopg.Error:
            conn.rollback()
            dual = None
    lines = [f"### Drop tier {tier}: {plan.name}", "",
             f"Environment **{ctx.environment}**, mode {ctx.mode}. Tables: " + ", ".join(f"`{t}`" for t in plan.tables),
             "", f"**{len(plan.triggers)} logging triggers** (backed up: {len(backed)}):", "",
             "| table | trigger | function | enabled |", "|---|---|---|---|"]
    lines += [f"| `{t.table}` | `{t.trigger_name}` | `{t.function_identity}` | {t.enabled} |" for t in plan.triggers]
    lines += ["", "**Baseline** (with the triggers):", ""]
    if base:
        d = base["details"]
        lines += [f"- probe: {d.get('probe_ms')} ms per insert+delete pair (median per table, mean over tables; "
                  f"{d['probe']['writes_per_table']} pairs per table, rolled back)",
                  "- pg_stat_statements: " + (f"{d.get('statement_mean_ms')} ms mean over {d.get('statement_calls')} "
                                               "application writes" if d.get("statements") else "not available"),
                  f"- application writes in the window: {d.get('writes_total')} ({d.get('writes_per_s')}/s over "
                  f"{d['window']['seconds']} s)",
                  f"- entity types these triggers log: {', '.join(d.get('entity_types') or []) or 'none observed'}"]
    else:
        lines.append("- no baseline recorded")
    from .p5_handover import readiness_summary
    with connection(dsn) as conn:
        ready = readiness_summary(conn, cfg, tier, ctx.dag_run_id)
    lines += ["", "**Handover** (the application publishes for these tables while the triggers still log):", ""]
    if ready:
        lines += ["| table | writes the triggers logged | published by the application too |", "|---|---|---|"]
        lines += [f"| `{t}` | {v['writes']} | {v['covered']} |" for t, v in (ready.get("tables") or {}).items()]
        lines.append(f"\nVerdict: **{ready.get('state')}** over {ready['window']['from']} – {ready['window']['to']}")
    else:
        lines.append("- not measured in this run")
    lines += ["", "**Parity** (latest `parity` validation): " + (
        f"{'passed' if parity['success'] else 'FAILED'} at {parity['run_at']:%Y-%m-%d %H:%M:%S %Z} "
        f"({parity['environment']})" if parity else "no parity result recorded"),
        "", "**Dual write** (phase 2, triggers call publish_activity): " + (
            "on" if dual else "off" if dual is False else "unknown"),
        "", "After approval the triggers are dropped in one transaction (lock_timeout "
        f"{cfg.safety.lock_timeout_ms} ms, retried), then the performance and event-flow sensors watch the tier. "
        "Rollback: `migration_rollback` or `activity-migration tiers --restore` recreates them from the backup."]
    return "\n".join(lines)


def apply(dsn: str, cfg: MigrationConfig, ctx: RunContext, tier: int) -> dict[str, Any]:
    """Drop the tier's logging triggers (ledger step ``tier_<n>_drop``), only after this run's
    handover showed the application publishing for every table of the tier (p5_handover)."""
    from . import p5_handover
    with ledger.step(dsn, PHASE, f"tier_{tier}_drop", ctx, cfg, {"tier": tier}) as out:
        with connection(dsn) as conn:
            plan = tiers.plan_tier(conn, cfg, tier)
            if plan.triggers:          # a re-run after the drop resumes without asking again
                out["readiness"] = p5_handover.require_ready(conn, cfg, tier, ctx.dag_run_id)
        out.update(tiers.drop_tier(dsn, cfg, tier))
        with connection(dsn) as conn:
            p5_handover.set_publishers(conn, cfg, cfg.tier(tier).table_names, "application", by=ctx.dag_run_id)
            conn.commit()
    return out


drop = apply


# --- sensors ----------------------------------------------------------------------------------------------

def _window(conn: psycopg.Connection, cfg: MigrationConfig, tier: int, kind: str, run_key: str
            ) -> dict[str, Any] | None:
    return fetch_one(conn, sql.SQL("SELECT id, details FROM {} WHERE purpose = 'window' AND tier = %s AND metric = %s "
                                   "AND details->>'run_key' = %s ORDER BY id DESC LIMIT 1").format(
        state_table(cfg, "perf_samples")), (tier, kind, run_key))


def _open_window(conn: psycopg.Connection, cfg: MigrationConfig, tier: int, kind: str, run_key: str,
                 snapshot: dict[str, Any]) -> None:
    conn.execute(sql.SQL("DELETE FROM {} WHERE purpose = 'window' AND tier = %s AND metric = %s "
                         "AND details->>'run_key' = %s").format(state_table(cfg, "perf_samples")), (tier, kind, run_key))
    _record_sample(conn, cfg, "window", tier, kind, None, {"run_key": run_key, **snapshot})
    conn.commit()


def _windowed(dsn: str, cfg: MigrationConfig, tier: int, kind: str, run_key: str, window_s: float,
              snap: Any) -> tuple[dict | None, dict]:
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


def performance_poke(dsn: str, cfg: MigrationConfig, ctx: RunContext, tier: int, *, window_s: float,
                     max_regression_pct: float, probe_writes: int) -> Verdict:
    """After the drop: the tier's write cost over a window vs the baseline; pass unless it regressed.

    A regression beyond ``max_regression_pct`` answers ``wait`` (measure again next window):
    one noisy window does not fail the tier, a persistent regression runs into the sensor's
    timeout, which fails the run and sends the alert with these figures.
    """
    tables = _tier_tables(dsn, cfg, tier)
    run_key = ctx.dag_run_id or "manual"

    def snap(conn: psycopg.Connection) -> dict[str, Any]:
        return {"counters": perf.write_counters(conn, tables), "statements": perf.statement_costs(conn, tables)}

    start, end = _windowed(dsn, cfg, tier, "perf", run_key, window_s, snap)
    if start is None:
        return Verdict("wait", f"tier {tier}: measuring write cost, window of {window_s:g} s open since "
                               f"{end['counters']['at']}")
    with connection(dsn) as conn:
        probe = perf.probe_write_latency(conn, tables, probe_writes)
        base_row = _latest_sample(conn, cfg, "baseline", tier, "write_cost")
    if base_row is None:
        raise PreflightError(f"tier {tier} has no baseline (purpose 'baseline' in {cfg.state_schema}.perf_samples)")
    after = _window_figures(start["counters"], end["counters"], start["statements"], end["statements"], probe)
    verdict = compare_write_cost(base_row["details"], after, max_regression_pct)
    after.update(tier=tier, run_key=run_key, comparison=verdict.figures, taken_at=_now_iso())
    with connection(dsn) as conn:
        _record_sample(conn, cfg, "after_drop", tier, "write_cost", verdict.figures.get("after"), after)
        conn.commit()
    return verdict


def compare_write_cost(base: dict[str, Any], after: dict[str, Any], max_regression_pct: float) -> Verdict:
    """Compare like with like: statement means when both windows had enough statements, else the probe."""
    method = "pg_stat_statements" if (_method(base) == "pg_stat_statements" and _method(after) == "pg_stat_statements") \
        else "probe"
    key = "statement_mean_ms" if method == "pg_stat_statements" else "probe_ms"
    before_v, after_v = base.get(key), after.get(key)
    if not before_v or after_v is None:
        return Verdict("wait", f"no comparable {method} figure yet (baseline {before_v}, after {after_v})",
                       {"method": method, "before": before_v, "after": after_v})
    change = (after_v / before_v - 1.0) * 100.0
    figures = {"method": method, "metric": key, "before": before_v, "after": after_v,
               "change_pct": round(change, 2), "improvement_pct": round(-change, 2),
               "max_regression_pct": max_regression_pct,
               "probe_before_ms": base.get("probe_ms"), "probe_after_ms": after.get("probe_ms"),
               "statement_before_ms": base.get("statement_mean_ms"), "statement_after_ms": after.get("statement_mean_ms"),
               "writes_per_s_before": base.get("writes_per_s"), "writes_per_s_after": after.get("writes_per_s")}
    if change > max_regression_pct:
        return Verdict("wait", f"write cost regressed {change:.1f}% ({before_v} -> {after_v} ms, {method}); "
                               f"allowed {max_regression_pct}%: measuring again", figures)
    return Verdict("pass", f"write cost {before_v} -> {after_v} ms ({method}): {-change:.1f}% improvement", figures)


def entity_types_of_tier(conn: psycopg.Connection, cfg: MigrationConfig, tier: int) -> list[str]:
    st = tiers.tier_states(conn, cfg).get(tier) or {}
    return list((st.get("details") or {}).get("entity_types") or [])


def event_flow_poke(dsn: str, cfg: MigrationConfig, ctx: RunContext, tier: int, *, window_s: float,
                    min_ratio: float) -> Verdict:
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
        by_table = ((tiers.tier_states(conn, cfg).get(tier) or {}).get("details") or {}).get("entity_types_by_table")
    if not entity_types:
        raise PreflightError(f"tier {tier}: no entity types recorded for its triggers (the baseline step records "
                             "them while the triggers exist); cannot judge the event flow")
    with connection(dsn, autocommit=True) as conn:
        now = {"counters": perf.write_counters(conn, tables)}
    with connection(dsn) as conn:
        row = _window(conn, cfg, tier, "event_flow", run_key)
        if row is None:
            _open_window(conn, cfg, tier, "event_flow", run_key, now)
            return Verdict("wait", f"tier {tier}: counting committed writes and events from {now['counters']['at']}")
        start = row["details"]["counters"]
        if perf.seconds_between(start["at"], now["counters"]["at"]) < window_s:
            return Verdict("wait", f"tier {tier}: window of {window_s:g} s open since {start['at']}")
        committed = perf.committed_write_delta(start, now["counters"])
        reset = sorted(t for t, v in committed.items() if v is None)
        if reset:
            _open_window(conn, cfg, tier, "event_flow", run_key, now)
            return Verdict("wait", f"tier {tier}: {', '.join(reset)} analyzed during the window (the committed-write "
                                   "counter restarted): measuring again")
        total = sum(v or 0 for v in committed.values())
        if total < MIN_EVENT_FLOW_WRITES:
            return Verdict("wait", f"tier {tier}: {total} committed writes since {start['at']}; the ratio is judged "
                                   f"from {MIN_EVENT_FLOW_WRITES} on: the window stays open")
        _open_window(conn, cfg, tier, "event_flow", run_key, now)   # the next window starts here
    verdict = judge_event_flow(dsn, cfg, tier, start, now["counters"], entity_types, min_ratio, run_key,
                               by_table=by_table)
    if verdict.state == "fail":
        from .p5_handover import restore_on_missing_activity
        restored = restore_on_missing_activity(dsn, cfg, ctx, tier, verdict.figures)
        verdict = Verdict("fail", verdict.message + f"; the tier's triggers were restored from the backup at "
                                                    f"{restored['at']} (tier 'restored', drop recorded as failed)",
                          {**verdict.figures, "restored": restored["restored"]})
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


def judge_event_flow(dsn: str, cfg: MigrationConfig, tier: int, c0: dict, c1: dict, entity_types: list[str],
                     min_ratio: float, run_key: str = "manual", *, by_table: dict[str, Any] | None = None) -> Verdict:
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
        tables[t] = {"writes": w, "events": e, "ratio": round(e / w, 4) if (w and e is not None) else None,
                     "method": perf.COMMITTED_WRITES_METHOD if committed.get(t) is not None
                     else "n_tup_ins + n_tup_upd + n_tup_del delta (rolled-back rows included)"}
    ratio = round(events / total, 4) if total else None
    missing = sorted(t for t, v in tables.items() if v["events"] is not None and (
        (v["writes"] >= MIN_TABLE_WRITES and v["events"] / v["writes"] < min_ratio)
        or (v["writes"] >= 3 and v["events"] == 0)))
    figures = {"window": {"from": c0["at"], "to": c1["at"], "seconds": round(perf.seconds_between(c0["at"], c1["at"]), 3),
                          "events_from": events_from},
               "writes": writes, "writes_total": total, "events": events, "entity_types": entity_types,
               "tables": tables, "ratio": ratio, "min_ratio": min_ratio, "missing_tables": missing,
               "min_writes": MIN_EVENT_FLOW_WRITES, "run_key": run_key}
    shown = ", ".join(f"{t}: {v['events']}/{v['writes']}" for t, v in tables.items())
    if total == 0:
        verdict = Verdict("wait", f"tier {tier}: no writes to {', '.join(writes) or 'its tables'} in the window: "
                                  "no evidence yet (not a pass)", figures)
    elif ratio < min_ratio or missing:
        where = ", ".join(missing) if missing else ", ".join(sorted(writes))
        verdict = Verdict("fail", f"tier {tier}: activity went missing on {where}: {events} events for {total} "
                                  f"committed writes (ratio {ratio}, minimum {min_ratio}; events/writes per table: "
                                  f"{shown}); the application does not publish for these tables", figures)
    else:
        verdict = Verdict("pass", f"tier {tier}: {events} events for {total} writes (ratio {ratio}; {shown})", figures)
    with connection(dsn) as conn:
        _record_sample(conn, cfg, "event_flow", tier, "event_ratio", ratio, {**figures, "state": verdict.state})
        conn.commit()
    return verdict


# --- done, rollback, report -------------------------------------------------------------------------------

def verify(dsn: str, cfg: MigrationConfig, ctx: RunContext, tier: int) -> dict[str, Any]:
    """Record the tier as 'verified' with the measured improvement (ledger step ``tier_<n>_done``)."""
    with ledger.step(dsn, PHASE, f"tier_{tier}_done", ctx, cfg, {"tier": tier}) as out:
        with connection(dsn) as conn:
            plan = tiers.plan_tier(conn, cfg, tier)
            if plan.triggers:
                raise MigrationError(f"tier {tier} still has {len(plan.triggers)} logging triggers: not dropped")
            perf_row = fetch_one(conn, sql.SQL(
                "SELECT details FROM {} WHERE purpose = 'after_drop' AND tier = %s "
                "AND details->'comparison'->>'improvement_pct' IS NOT NULL ORDER BY id DESC LIMIT 1").format(
                state_table(cfg, "perf_samples")), (tier,))
            flow_row = _latest_sample(conn, cfg, "event_flow", tier, "event_ratio")
            improvement = dict((perf_row or {}).get("details", {}).get("comparison") or {})
            if flow_row:
                improvement["event_ratio"] = flow_row["details"].get("ratio")
            improvement["measured_at"] = _now_iso()
            tiers.set_tier_state(conn, cfg, tier, "verified", improvement=_jsonable(improvement))
            conn.commit()
        out.update(status="verified", improvement=improvement)
    return out


record_done = verify


def rollback_tier(dsn: str, cfg: MigrationConfig, tier: int, ctx: RunContext | None = None) -> dict[str, Any]:
    """Recreate the tier's backed-up triggers and functions exactly; tier 'restored' (ledger step ``rollback``)."""
    ctx = ctx or RunContext()
    from .p5_handover import set_publishers
    with ledger.step(dsn, PHASE, "rollback", ctx, cfg, {"tier": tier}) as out:
        out.update(tiers.restore_tier(dsn, cfg, tier))
        with connection(dsn) as conn:
            set_publishers(conn, cfg, cfg.tier(tier).table_names, "trigger", by="rollback")
            conn.commit()
    return out


def rollback_all(dsn: str, cfg: MigrationConfig, ctx: RunContext | None = None) -> dict[str, Any]:
    """Restore every tier, newest first; each tier is its own transaction."""
    ctx = ctx or RunContext()
    from .p5_handover import set_publishers
    with ledger.step(dsn, PHASE, "rollback", ctx, cfg, {"tier": "all"}) as out:
        out["tiers"] = tiers.restore_all(dsn, cfg)
        with connection(dsn) as conn:
            if ledger.state_schema_exists(conn, cfg):
                set_publishers(conn, cfg, [t for tier in cfg.tiers for t in tier.table_names], "trigger",
                               by="rollback")
                conn.commit()
    return out


rollback = rollback_all


def failure_report(dsn: str, cfg: MigrationConfig, tier: int, run_key: str | None = None) -> tuple[str, str]:
    """Subject and HTML of the alert when a sensor of the tier fails, with the latest figures."""
    with connection(dsn) as conn:
        rows = {p: _latest_sample(conn, cfg, p, tier, m, None if p == "baseline" else run_key)
                for p, m in (("baseline", "write_cost"), ("after_drop", "write_cost"), ("event_flow", "event_ratio"))}
    perf_d = (rows["after_drop"] or {}).get("details") or {}
    cmp_ = perf_d.get("comparison") or {}
    flow = (rows["event_flow"] or {}).get("details") or {}
    items = [
        ("tier", f"{tier} ({cfg.tier(tier).name})"),
        ("tables", ", ".join(cfg.tier(tier).table_names)),
        ("write cost method", cmp_.get("method")),
        ("write cost before (ms)", cmp_.get("before")),
        ("write cost after (ms)", cmp_.get("after")),
        ("change %", cmp_.get("change_pct")),
        ("allowed regression %", cmp_.get("max_regression_pct")),
        ("writes in event-flow window", flow.get("writes_total")),
        ("events published in window", flow.get("events")),
        ("events / writes", flow.get("ratio")),
        ("minimum ratio", flow.get("min_ratio")),
        ("entity types", ", ".join(flow.get("entity_types") or [])),
    ]
    rows_html = "".join(f"<tr><th align='left'>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
                        for k, v in items)
    subject = f"activity-migration phase 5: tier {tier} sensor failed"
    body = (f"<p>A sensor of tier {tier} failed after its triggers were dropped. The triggers stay dropped until "
            f"someone decides: roll the tier back with the <code>migration_rollback</code> DAG or "
            f"<code>activity-migration tiers --restore {tier}</code>.</p><table>{rows_html}</table>")
    return subject, body


def tiers_section(conn: psycopg.Connection, cfg: MigrationConfig) -> dict[str, Any]:
    """Per tier: status, triggers dropped, measured improvement and event ratio."""
    states = tiers.tier_states(conn, cfg)
    out = {}
    for t in cfg.tiers:
        st = states.get(t.tier) or {}
        imp = st.get("improvement") or {}
        out[f"tier_{t.tier}"] = {
            "name": t.name, "status": st.get("status", "pending"), "triggers": len(st.get("triggers") or []),
            "improvement_pct": imp.get("improvement_pct"), "method": imp.get("method"),
            "write_ms_before": imp.get("before"), "write_ms_after": imp.get("after"),
            "event_ratio": imp.get("event_ratio")}
    done = [k for k, v in out.items() if v["status"] == "verified"]
    return {"tiers_verified": f"{len(done)}/{len(cfg.tiers)}", "tiers": out}
