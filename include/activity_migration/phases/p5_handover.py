"""Phase 5 handover: a tier's triggers are dropped only when nothing will be lost.

Before the drop the application is told to publish for the tier's tables (setting
``publishers``, read by the application through ``public.activity_publisher(table)``) while the
legacy triggers still log. The dual-write writer turns the pair (the trigger's event and the
application's publish for the same entity in the same transaction) into one event and a
confirmation (``{state}.publish_confirmations``), so nothing is written twice and the coverage
is measured exactly: committed writes only, per table. :func:`readiness_poke` passes when the
application's publishes cover the triggers' writes on every table of the tier.

After the drop, :func:`restore_on_missing_activity` puts the tier's triggers back from the
backup as soon as the event-flow sensor finds activity missing, and records the tier as failed.

States of a table in ``publishers``: ``trigger`` (the default: the legacy trigger logs),
``handover`` (both; the application publishes, the pair gives one event), ``application``
(the triggers are gone).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import psycopg
from psycopg import sql

from .. import ledger, tiers
from ..config import MigrationConfig
from ..db import connection, fetch_all, load_sql, scalar
from ..errors import GateClosed, PreflightError
from ..ledger import RunContext
from .p5_sensors import Verdict, _latest_sample, _record_sample, _windowed

PUBLISHERS_SETTING = "publishers"
PUBLISHER_STATES = ("trigger", "handover", "application")
# Below this many trigger-logged writes in a window, a coverage ratio means little: wait for more.
MIN_READINESS_WRITES = 20


def publishers(conn: psycopg.Connection, cfg: MigrationConfig) -> dict[str, str]:
    return dict(ledger.get_setting(conn, PUBLISHERS_SETTING, {}, cfg=cfg) or {})


def set_publishers(
    conn: psycopg.Connection, cfg: MigrationConfig, tables: list[str], state: str, by: str | None = None
) -> dict[str, str]:
    """Tell the application who logs ``tables`` from now on (no commit: the caller's transaction)."""
    if state not in PUBLISHER_STATES:
        raise ValueError(f"publisher state must be one of {PUBLISHER_STATES}, got {state!r}")
    current = publishers(conn, cfg)
    current.update({t: state for t in tables})
    ledger.set_setting(conn, PUBLISHERS_SETTING, current, by=by or tiers.PHASE, cfg=cfg)
    return current


def handover(dsn: str, cfg: MigrationConfig, ctx: RunContext, tier: int) -> dict[str, Any]:
    """Tell the application to publish for the tier's tables (its triggers keep logging)."""
    tables = cfg.tier(tier).table_names
    with ledger.step(dsn, tiers.PHASE, f"tier_{tier}_handover", ctx, cfg, {"tier": tier}) as out:
        with connection(dsn) as conn:
            before = publishers(conn, cfg)
            keep = [t for t in tables if before.get(t) == "application"]  # already dropped: stays
            set_publishers(conn, cfg, [t for t in tables if t not in keep], "handover", by=ctx.dag_run_id)
            since = scalar(conn, "SELECT clock_timestamp()")
            conn.commit()
        out.update(
            tables=tables,
            since=since.isoformat(),
            already_application=keep,
            note="the application reads public.activity_publisher(table) = 'application' and publishes "
            "after its write; the triggers still log, the pair gives one event",
        )
    return out


def coverage(
    conn: psycopg.Connection, cfg: MigrationConfig, entity_types: list[str], since: str, until: str
) -> dict[str, dict[str, int]]:
    """Per entity type: writes the triggers logged in [since, until) and how many the application
    published."""
    rows = fetch_all(
        conn,
        load_sql(
            "p5_trigger_removal/09_count_publish_coverage.sql",
            state=cfg.state_schema,
            events=sql.Identifier(cfg.target_schema, cfg.target_table),
        ),
        {"types": entity_types, "from": since, "to": until},
    )
    return {r["entity_type"]: {"writes": int(r["writes"]), "covered": int(r["covered"])} for r in rows}


def per_table(
    types_by_table: dict[str, Any], by_type: dict[str, dict[str, int]], tables: list[str]
) -> dict[str, dict[str, Any]]:
    """The coverage of each table of the tier (through the entity types its triggers log)."""
    out: dict[str, dict[str, Any]] = {}
    for table in tables:
        types = (types_by_table.get(table) or {}).get("entity_types") or []
        writes = sum(by_type.get(t, {}).get("writes", 0) for t in types)
        covered = sum(by_type.get(t, {}).get("covered", 0) for t in types)
        out[table] = {
            "entity_types": types,
            "writes": writes,
            "covered": covered,
            "ratio": round(covered / writes, 4) if writes else None,
        }
    return out


def readiness_poke(
    dsn: str,
    cfg: MigrationConfig,
    ctx: RunContext,
    tier: int,
    *,
    window_s: float,
    min_ratio: float,
    min_writes: int = MIN_READINESS_WRITES,
) -> Any:
    """During the handover: do the application's publishes cover the triggers' writes, per table?

    ``pass`` when, over one window, every table of the tier had trigger-logged writes and the
    application published at least ``min_ratio`` of them (and the tier at least ``min_writes``
    writes in all); ``wait`` while the evidence is thin; ``fail`` when a table stays below the
    ratio for two windows in a row (the first window after the handover may catch an application
    that had not read the setting yet). A failure hands the tables back to the triggers.
    """
    tables = cfg.tier(tier).table_names
    run_key = ctx.dag_run_id or "manual"
    types_by_table, types = _recorded_entity_types(dsn, cfg, tier)

    def snap(conn: psycopg.Connection) -> dict[str, Any]:
        return {"counters": {"at": scalar(conn, "SELECT clock_timestamp()").isoformat()}}

    start, end = _windowed(dsn, cfg, tier, "readiness", run_key, window_s, snap)
    if start is None:
        return Verdict(
            "wait",
            f"tier {tier}: the application was told to publish; measuring its coverage over "
            f"{window_s:g} s from {end['counters']['at']}",
        )
    since, until = start["counters"]["at"], end["counters"]["at"]
    with connection(dsn) as conn:
        tables_cov = per_table(types_by_table, coverage(conn, cfg, types, since, until), tables)
        previous = _latest_sample(conn, cfg, "readiness", tier, "coverage", run_key)
    figures = _readiness_figures(tables_cov, since, until, min_ratio, min_writes, run_key)
    verdict = _readiness_verdict(tier, figures, previous)
    _record_readiness(dsn, cfg, tier, tables, run_key, figures, verdict)
    return verdict


def _recorded_entity_types(dsn: str, cfg: MigrationConfig, tier: int) -> tuple[dict[str, Any], list[str]]:
    """The entity types the tier's triggers log, per table and all (as the baseline recorded them)."""
    with connection(dsn) as conn:
        state = (tiers.tier_states(conn, cfg).get(tier) or {}).get("details") or {}
    types_by_table = state.get("entity_types_by_table") or {}
    types = sorted({t for v in types_by_table.values() for t in (v.get("entity_types") or [])})
    if not types:
        raise PreflightError(
            f"tier {tier}: no entity types recorded for its triggers (the baseline step records "
            "them while the triggers exist); cannot measure the handover"
        )
    return types_by_table, types


def _readiness_figures(
    tables_cov: dict[str, dict[str, Any]],
    since: str,
    until: str,
    min_ratio: float,
    min_writes: int,
    run_key: str,
) -> dict[str, Any]:
    """One window's coverage: per table, in all, and the tables below the ratio or without writes."""
    return {
        "window": {"from": since, "to": until},
        "tables": tables_cov,
        "writes_total": sum(v["writes"] for v in tables_cov.values()),
        "covered_total": sum(v["covered"] for v in tables_cov.values()),
        "min_ratio": min_ratio,
        "min_writes": min_writes,
        "low": sorted(t for t, v in tables_cov.items() if v["writes"] and v["ratio"] < min_ratio),
        "idle": sorted(t for t, v in tables_cov.items() if not v["writes"]),
        "run_key": run_key,
        "method": "events the triggers logged vs the application's confirmed publishes (committed only)",
    }


def _readiness_verdict(tier: int, figures: dict[str, Any], previous: dict[str, Any] | None) -> Verdict:
    """``fail`` when a table is low in this window and was in the previous one, ``wait`` while
    a table is low or the evidence is thin, else ``pass``."""
    low, idle, total = figures["low"], figures["idle"], figures["writes_total"]
    min_ratio, min_writes = figures["min_ratio"], figures["min_writes"]
    shown = ", ".join(f"{t}: {v['covered']}/{v['writes']}" for t, v in figures["tables"].items())
    if low and previous and (previous["details"].get("low") or []):
        return Verdict(
            "fail",
            f"tier {tier}: the application does not publish for {', '.join(low)} "
            f"(published/logged: {shown}; minimum ratio {min_ratio}) in two windows in a "
            "row; the triggers stay and log these tables",
            figures,
        )
    if low:
        return Verdict(
            "wait",
            f"tier {tier}: below {min_ratio} on {', '.join(low)} ({shown}); measuring one "
            "more window (the application may have read the setting late)",
            figures,
        )
    if idle or total < min_writes:
        return Verdict(
            "wait",
            f"tier {tier}: not enough evidence yet ({total} writes, at least {min_writes}; "
            f"no writes on {', '.join(idle) or 'none'}): {shown}",
            figures,
        )
    return Verdict("pass", f"tier {tier}: the application publishes for every table ({shown})", figures)


def _record_readiness(
    dsn: str,
    cfg: MigrationConfig,
    tier: int,
    tables: list[str],
    run_key: str,
    figures: dict[str, Any],
    verdict: Verdict,
) -> None:
    """The window as a ``readiness`` sample; on a failure the tables go back to the triggers (one
    transaction)."""
    total = figures["writes_total"]
    with connection(dsn) as conn:
        _record_sample(
            conn,
            cfg,
            "readiness",
            tier,
            "coverage",
            round(figures["covered_total"] / total, 4) if total else None,
            {**figures, "state": verdict.state},
        )
        if verdict.state == "fail":
            set_publishers(conn, cfg, tables, "trigger", by=run_key)
        conn.commit()


def readiness_summary(
    conn: psycopg.Connection, cfg: MigrationConfig, tier: int, run_key: str | None
) -> dict[str, Any] | None:
    """The passing readiness window of this run (for the approval's evidence), or None."""
    row = _latest_sample(conn, cfg, "readiness", tier, "coverage", run_key)
    return row["details"] if row else None


def require_ready(
    conn: psycopg.Connection, cfg: MigrationConfig, tier: int, run_key: str | None
) -> dict[str, Any]:
    """The drop's own check: this run measured the handover and it passed (GateClosed otherwise)."""
    found = readiness_summary(conn, cfg, tier, run_key)
    if not found or found.get("state") != "pass":
        raise GateClosed(
            f"tier {tier} may be dropped only after the handover showed the application publishing "
            f"for every table of the tier in this run (latest: {found.get('state') if found else 'none'})"
        )
    return found


def restore_on_missing_activity(
    dsn: str, cfg: MigrationConfig, ctx: RunContext, tier: int, figures: dict[str, Any]
) -> dict[str, Any]:
    """Activity went missing after the drop: the tier's triggers back from the backup, at once.

    The tier is recorded as failed (ledger step ``tier_<n>_drop`` failed, tier_state 'restored'),
    never as a succeeded drop; the tables go back to ``handover`` (the triggers log, an
    application that does publish still gives one event per write).
    """
    restored = tiers.restore_tier(dsn, cfg, tier)
    with connection(dsn) as conn:
        set_publishers(conn, cfg, cfg.tier(tier).table_names, "handover", by=ctx.dag_run_id)
        conn.commit()
        details = {
            "tier": tier,
            "restored_automatically": True,
            "reason": "activity went missing after the drop",
            "event_flow": figures,
            "restored": restored,
            "at": datetime.now(timezone.utc).isoformat(),
        }
        ledger.record(conn, tiers.PHASE, f"tier_{tier}_drop", "failed", ctx, details, cfg=cfg)
    return details
