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
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from .. import ledger, perf, tiers
from ..config import MigrationConfig, load_config
from ..db import connection, fetch_one, load_sql
from ..errors import GateClosed, MigrationError, PreflightError
from ..ledger import RunContext
from .p5_approval_evidence import approval_evidence  # noqa: F401 - a step, called by name by the DAG
from .p5_event_flow import (  # noqa: F401 - the sensors' entry points, here with the phase's steps
    MIN_EVENT_FLOW_WRITES,
    event_flow_poke,
    judge_event_flow,
)
from .p5_sensors import (  # noqa: F401 - the sensors' entry points, here with the phase's steps
    Verdict,
    _headline,
    _jsonable,
    _latest_sample,
    _measure_window,
    _method,
    _now_iso,
    _record_sample,
    _window_figures,
    compare_write_cost,
    performance_poke,
)

PHASE = tiers.PHASE


def _tier_details(conn: psycopg.Connection, cfg: MigrationConfig, tier: int, details: dict[str, Any]) -> None:
    """Merge ``details`` into the tier's row without touching its status (creates it as 'pending')."""
    conn.execute(
        load_sql("p5_trigger_removal/14_merge_tier_details.sql", state=cfg.state_schema),
        {"tier": tier, "details": Jsonb(_jsonable(details))},
    )


# --- discovery and gates ----------------------------------------------------------------------------------


def validate(
    dsn: str, cfg: MigrationConfig | None = None, ctx: RunContext | None = None, tier: int | None = None
) -> dict[str, Any]:
    """Discover the logging triggers and their tiers; PreflightError names any unclaimed trigger or table."""
    cfg = cfg or load_config()
    with connection(dsn) as conn:
        plans = tiers.plan_tiers(conn, cfg)
    if tier is not None:
        cfg.tier(tier)
        return plans[tier].as_dict()
    return {
        "tiers": [p.as_dict() for p in plans.values()],
        "triggers": sum(len(p.triggers) for p in plans.values()),
    }


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
                raise GateClosed(
                    f"tier {tier} may start only after tier {prev} is verified "
                    f"(dropped and its sensors passed); tier {prev} is '{prev_status}'"
                )
        out.update(
            proceed=True,
            reason=f"tier {tier} is '{mine}'"
            + (
                "; its triggers are already dropped: the run resumes with the sensors"
                if mine == "dropped"
                else ""
            ),
        )
    return out


# --- baseline ---------------------------------------------------------------------------------------------


def baseline(
    dsn: str,
    cfg: MigrationConfig,
    ctx: RunContext,
    tier: int,
    *,
    window_s: float = 60,
    probe_writes: int = 100,
) -> dict[str, Any]:
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
                    raise PreflightError(
                        f"tier {tier} is '{plan.status}' but has no baseline: nothing to compare with"
                    )
                out.update(reused=True, **existing["details"])
                return out
            entity = perf.logged_entity_types(conn, cfg, list(plan.tables))
        figures = _measure_window(dsn, list(plan.tables), window_s, probe_writes)
        entity_types = sorted({e for v in entity.values() for e in v["entity_types"]})
        figures.update(
            tier=tier,
            run_key=ctx.dag_run_id,
            entity_types=entity_types,
            entity_types_by_table=entity,
            method=_method(figures),
            taken_at=_now_iso(),
        )
        with connection(dsn) as conn:
            _record_sample(conn, cfg, "baseline", tier, "write_cost", _headline(figures), figures)
            for table, p in figures["probe"]["tables"].items():
                if "median_ms" in p:
                    _record_sample(conn, cfg, "baseline", tier, "probe_median_ms", p["median_ms"], p, table)
            _tier_details(
                conn,
                cfg,
                tier,
                {
                    "entity_types": entity_types,
                    "entity_types_by_table": entity,
                    "name": plan.name,
                    "tables": list(plan.tables),
                },
            )
            conn.commit()
        out.update(figures)
    return out


# --- backup, evidence, drop -------------------------------------------------------------------------------


def backup(dsn: str, cfg: MigrationConfig, ctx: RunContext, tier: int) -> dict[str, Any]:
    """Back up the tier's triggers and functions (idempotent; a dropped tier keeps its backup)."""
    with ledger.step(dsn, PHASE, f"tier_{tier}_backup", ctx, cfg, {"tier": tier}) as out:
        with connection(dsn) as conn:
            out.update(tiers.backup_tier(conn, cfg, tiers.plan_tier(conn, cfg, tier)))
    return out


def apply(dsn: str, cfg: MigrationConfig, ctx: RunContext, tier: int) -> dict[str, Any]:
    """Remove the tier's logging triggers (ledger step ``tier_<n>_drop``), only after this run's
    handover showed the application publishing for every table of the tier (p5_handover)."""
    from . import p5_handover

    with ledger.step(dsn, PHASE, f"tier_{tier}_drop", ctx, cfg, {"tier": tier}) as out:
        with connection(dsn) as conn:
            plan = tiers.plan_tier(conn, cfg, tier)
            if plan.triggers:  # a re-run after the drop resumes without asking again
                out["readiness"] = p5_handover.require_ready(conn, cfg, tier, ctx.dag_run_id)
        out.update(tiers.drop_tier(dsn, cfg, tier))
        with connection(dsn) as conn:
            p5_handover.set_publishers(
                conn, cfg, cfg.tier(tier).table_names, "application", by=ctx.dag_run_id
            )
            conn.commit()
    return out


drop = apply


# --- sensors ----------------------------------------------------------------------------------------------


# --- done, rollback, report -------------------------------------------------------------------------------


def verify(dsn: str, cfg: MigrationConfig, ctx: RunContext, tier: int) -> dict[str, Any]:
    """Record the tier as 'verified' with the measured improvement (ledger step ``tier_<n>_done``)."""
    with ledger.step(dsn, PHASE, f"tier_{tier}_done", ctx, cfg, {"tier": tier}) as out:
        with connection(dsn) as conn:
            plan = tiers.plan_tier(conn, cfg, tier)
            if plan.triggers:
                raise MigrationError(
                    f"tier {tier} still has {len(plan.triggers)} logging triggers: not dropped"
                )
            perf_row = fetch_one(
                conn,
                load_sql("p5_trigger_removal/16_select_latest_improvement.sql", state=cfg.state_schema),
                {"tier": tier},
            )
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
    """Recreate the tier's backed-up triggers and functions exactly; tier 'restored' (ledger step
    ``rollback``)."""
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
                set_publishers(
                    conn, cfg, [t for tier in cfg.tiers for t in tier.table_names], "trigger", by="rollback"
                )
                conn.commit()
    return out


rollback = rollback_all


def failure_report(dsn: str, cfg: MigrationConfig, tier: int, run_key: str | None = None) -> tuple[str, str]:
    """Subject and HTML of the alert when a sensor of the tier fails, with the latest figures."""
    with connection(dsn) as conn:
        rows = {
            p: _latest_sample(conn, cfg, p, tier, m, None if p == "baseline" else run_key)
            for p, m in (
                ("baseline", "write_cost"),
                ("after_drop", "write_cost"),
                ("event_flow", "event_ratio"),
            )
        }
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
    rows_html = "".join(
        f"<tr><th align='left'>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in items
    )
    subject = f"activity-migration phase 5: tier {tier} sensor failed"
    body = (
        f"<p>A sensor of tier {tier} failed after its triggers were dropped. The triggers stay dropped until "
        f"someone decides: roll the tier back with the <code>migration_rollback</code> DAG or "
        f"<code>activity-migration tiers --restore {tier}</code>.</p><table>{rows_html}</table>"
    )
    return subject, body


def tiers_section(conn: psycopg.Connection, cfg: MigrationConfig) -> dict[str, Any]:
    """Per tier: status, triggers dropped, measured improvement and event ratio."""
    states = tiers.tier_states(conn, cfg)
    out = {}
    for t in cfg.tiers:
        st = states.get(t.tier) or {}
        imp = st.get("improvement") or {}
        out[f"tier_{t.tier}"] = {
            "name": t.name,
            "status": st.get("status", "pending"),
            "triggers": len(st.get("triggers") or []),
            "improvement_pct": imp.get("improvement_pct"),
            "method": imp.get("method"),
            "write_ms_before": imp.get("before"),
            "write_ms_after": imp.get("after"),
            "event_ratio": imp.get("event_ratio"),
        }
    done = [k for k, v in out.items() if v["status"] == "verified"]
    return {"tiers_verified": f"{len(done)}/{len(cfg.tiers)}", "tiers": out}
