"""Phase 5's approval evidence: the Markdown an approver reads before a tier's triggers are
dropped (the triggers and their backup, the baseline, the handover, parity, dual write)."""

from __future__ import annotations

from typing import Any

import psycopg

from .. import tiers
from ..approval_text import baseline_writes_line, summary_block, trigger_enabled_label
from ..config import MigrationConfig
from ..db import connection, fetch_one, load_sql
from ..ledger import RunContext
from .p5_sensors import _latest_sample


def _latest_parity(conn: psycopg.Connection, cfg: MigrationConfig) -> dict[str, Any] | None:
    return fetch_one(conn, load_sql("p5_trigger_removal/15_select_latest_parity.sql", state=cfg.state_schema))


def approval_evidence(dsn: str, cfg: MigrationConfig, ctx: RunContext, tier: int) -> str:
    """Markdown for the tier's approval: what will be dropped, the baseline, the latest parity result."""
    with connection(dsn) as conn:
        plan = tiers.plan_tier(conn, cfg, tier)
        base = _latest_sample(conn, cfg, "baseline", tier, "write_cost")
        parity = _latest_parity(conn, cfg)
        backed = tiers.backups(conn, cfg, "trigger", tier=tier)
        dual = _dual_write_state(conn, cfg)
    lines = _trigger_lines(tier, plan, backed, ctx, cfg)
    lines += _baseline_lines(base)
    from .p5_handover import readiness_summary

    with connection(dsn) as conn:
        ready = readiness_summary(conn, cfg, tier, ctx.dag_run_id)
    lines += _handover_lines(ready)
    lines += _closing_lines(parity, dual, cfg)
    return "\n".join(lines)


def _dual_write_state(conn: psycopg.Connection, cfg: MigrationConfig) -> bool | None:
    """Whether phase 2's dual write is on; None when it cannot be read."""
    from ._common import dual_write_enabled

    try:
        return dual_write_enabled(conn, cfg)
    except psycopg.Error:
        conn.rollback()
        return None


def _trigger_lines(
    tier: int, plan: Any, backed: list[Any], ctx: RunContext, cfg: MigrationConfig
) -> list[str]:
    """The heading, the summary, the tables and the table of the triggers to be dropped."""
    lines = [
        f"### Drop tier {tier}: {plan.name}",
        "",
        *summary_block(
            change=f"{len(plan.triggers)} logging triggers on {len(plan.tables)} tables are dropped; "
            "from then on only the application's own `publish_activity` calls record these tables' activity.",
            risk="activity the application does not publish goes unlogged (the event-flow sensor "
            f"restores the triggers when it goes missing); the drop takes a short lock (lock_timeout "
            f"{cfg.safety.lock_timeout_ms} ms, retried).",
            undo="`migration_rollback` or `activity-migration tiers --restore` recreates the triggers from "
            f"their backup ({len(backed)} backed up).",
            environment=ctx.environment,
        ),
        f"Environment **{ctx.environment}**, mode {ctx.mode}. Tables: "
        + ", ".join(f"`{t}`" for t in plan.tables),
        "",
        f"**{len(plan.triggers)} logging triggers** (backed up: {len(backed)}):",
        "",
        "| table | triggers (when each fires) |",
        "|---|---|",
    ]
    by_table: dict[str, list[str]] = {}
    for t in plan.triggers:  # one row per table keeps the evidence short, the buttons near
        by_table.setdefault(t.table, []).append(f"`{t.trigger_name}` ({trigger_enabled_label(t.enabled)})")
    lines += [f"| `{table}` | {', '.join(names)} |" for table, names in by_table.items()]
    return lines


def _baseline_lines(base: dict[str, Any] | None) -> list[str]:
    """The write cost measured with the triggers in place."""
    lines = ["", "**Baseline** (with the triggers):", ""]
    if base:
        d = base["details"]
        lines += [
            f"- probe: {d.get('probe_ms')} ms per insert+delete pair (median per table, mean over tables; "
            f"{d['probe']['writes_per_table']} pairs per table, rolled back)",
            "- pg_stat_statements: "
            + (
                f"{d.get('statement_mean_ms')} ms mean over {d.get('statement_calls')} application writes"
                if d.get("statements")
                else "not available"
            ),
            "- " + baseline_writes_line(d.get("writes_total"), d.get("writes_per_s"), d["window"]["seconds"]),
            f"- entity types these triggers log: {', '.join(d.get('entity_types') or []) or 'none observed'}",
        ]
    else:
        lines.append("- no baseline recorded")
    return lines


def _handover_lines(ready: dict[str, Any] | None) -> list[str]:
    """This run's handover: per table, the triggers' writes the application published too."""
    lines = [
        "",
        "**Handover** (the application publishes for these tables while the triggers still log):",
        "",
    ]
    if ready:
        lines += [
            "| table | writes the triggers logged | published by the application too |",
            "|---|---|---|",
        ]
        lines += [
            f"| `{t}` | {v['writes']} | {v['covered']} |" for t, v in (ready.get("tables") or {}).items()
        ]
        lines.append(
            f"\nVerdict: **{ready.get('state')}** over {ready['window']['from']} – {ready['window']['to']}"
        )
    else:
        lines.append("- not measured in this run")
    return lines


def _closing_lines(parity: dict[str, Any] | None, dual: bool | None, cfg: MigrationConfig) -> list[str]:
    """Parity, dual write, then what happens after the approval and how to roll back."""
    return [
        "",
        "**Parity** (latest `parity` validation): "
        + (
            f"{'passed' if parity['success'] else 'FAILED'} at {parity['run_at']:%Y-%m-%d %H:%M:%S %Z} "
            f"({parity['environment']})"
            if parity
            else "no parity result recorded"
        ),
        "",
        "**Dual write** (phase 2, triggers call publish_activity): "
        + ("on" if dual else "off" if dual is False else "unknown"),
        "",
        "After approval the triggers are dropped in one transaction (lock_timeout "
        f"{cfg.safety.lock_timeout_ms} ms, retried), then the performance and event-flow sensors watch the "
        "tier. "
        "Rollback: `migration_rollback` or `activity-migration tiers --restore` recreates them from the "
        "backup.",
    ]
