"""Phase 6's gates: every tier verified, the validation suites passed recently, no open
quarantine row; and the Markdown the approval shows. Each refuses naming what is missing."""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from psycopg import sql

from .. import ledger
from ..catalog import logging_triggers
from ..config import MigrationConfig, load_config
from ..db import fetch_all, load_sql, scalar
from ..errors import GateClosed, MigrationError
from ..ledger import state_table

log = logging.getLogger(__name__)


VALIDATION_SUITES = ("parity", "events_integrity")


# --------------------------------------------------------------------------- gates
def gate_tiers_done(conn: psycopg.Connection, cfg: MigrationConfig | None = None) -> dict[str, Any]:
    """Every configured tier 'verified' in tier_state, and no logging trigger left in the catalog."""
    cfg = cfg or load_config()
    rows = (
        {
            r["tier"]: r["status"]
            for r in fetch_all(
                conn, sql.SQL("SELECT tier, status FROM {}").format(state_table(cfg, "tier_state"))
            )
        }
        if ledger.state_schema_exists(conn, cfg)
        else {}
    )
    not_done = {t.tier: rows.get(t.tier, "not started") for t in cfg.tiers if rows.get(t.tier) != "verified"}
    left = [t.identity for t in logging_triggers(conn, cfg)]
    facts = {
        "tiers": {str(t.tier): rows.get(t.tier, "not started") for t in cfg.tiers},
        "logging_triggers_left": len(left),
    }
    problems = []
    if not_done:
        problems.append("tiers not verified: " + ", ".join(f"tier {k} is {v}" for k, v in not_done.items()))
    if left:
        problems.append(f"{len(left)} logging triggers still exist: {left[:10]}")
    if problems:
        raise GateClosed("cleanup refused (all trigger tiers must be done): " + "; ".join(problems))
    return facts


def gate_validation(
    conn: psycopg.Connection,
    cfg: MigrationConfig | None = None,
    *,
    max_age_hours: float = 24,
    environment: str | None = None,
    suites: tuple[str, ...] = VALIDATION_SUITES,
) -> dict[str, Any]:
    """Each suite's newest full run passed within ``max_age_hours`` (validation.require_recent_pass)."""
    cfg = cfg or load_config()
    if not 0 < float(max_age_hours) <= 24 * 30:
        raise MigrationError(f"validation_max_age_hours must be in (0, 720], got {max_age_hours!r}")
    from ..validation.gate import require_recent_pass

    out = {}
    for suite in suites:
        row = require_recent_pass(conn, suite, float(max_age_hours), environment or "production", cfg=cfg)
        age = row.get("age")
        out[suite] = {
            "suite": suite,
            "run_at": str(row.get("run_at")),
            "result_id": row.get("id"),
            "age_hours": round(age.total_seconds() / 3600, 2) if age is not None else None,
        }
    return out


def quarantine_open(conn: psycopg.Connection, cfg: MigrationConfig) -> list[dict[str, Any]]:
    if not ledger.state_schema_exists(conn, cfg):
        return []
    return fetch_all(conn, load_sql("p6_cleanup/17_select_open_quarantine.sql", state=cfg.state_schema))


def gate_quarantine(conn: psycopg.Connection, cfg: MigrationConfig | None = None) -> dict[str, Any]:
    """No quarantined row is left unresolved and unacknowledged."""
    cfg = cfg or load_config()
    open_rows = quarantine_open(conn, cfg)
    if open_rows:
        total = sum(r["n"] for r in open_rows)
        by_reason = ", ".join(f"{r['reason']}: {r['n']}" for r in open_rows)
        raise GateClosed(
            f"cleanup refused: {total} quarantined rows are neither resolved nor acknowledged "
            f"({by_reason}); fix them, or acknowledge with "
            f"`activity-migration quarantine --ack --by NAME --all` (or --reason R)"
        )
    total = (
        scalar(conn, sql.SQL("SELECT count(*) FROM {}").format(state_table(cfg, "quarantine")))
        if ledger.state_schema_exists(conn, cfg)
        else 0
    )
    return {"quarantined": int(total or 0), "open": 0}


def acknowledge_quarantine(
    conn: psycopg.Connection,
    by: str,
    *,
    reason: str | None = None,
    all_rows: bool = False,
    cfg: MigrationConfig | None = None,
) -> int:
    """Mark open quarantine rows as acknowledged by ``by`` (all, or those with ``reason``); returns
    the count."""
    cfg = cfg or load_config()
    if not by or not by.strip():
        raise MigrationError("acknowledging quarantine rows needs a name (--by)")
    if not all_rows and not reason:
        raise MigrationError("say which rows to acknowledge: --all or --reason R")
    with conn.cursor() as cur:
        cur.execute(
            load_sql("p6_cleanup/18_acknowledge_quarantine.sql", state=cfg.state_schema),
            {"by": by.strip(), "reason": reason or None},
        )
        n = cur.rowcount
    conn.commit()
    return n


def evidence_markdown(facts: dict[str, Any], environment: str = "production") -> str:
    """The approval body: a summary, then what the gates found and what cleanup will do."""
    from ..approval_text import summary_block

    summary = summary_block(
        change=f"the legacy table `{facts.get('source_table')}` is archived as `{facts.get('archive')}` and "
        f"{facts.get('legacy_functions', '?')} legacy trigger functions are dropped (backed up first).",
        risk="anything still reading or writing the old table by name "
        + ("reads the compatibility view" if facts.get("keep_compat_view") else "fails")
        + "; the archive is kept "
        f"{facts.get('retention_days')} days.",
        undo="`migration_rollback` (phase p6_cleanup) moves the archive back and restores the functions, "
        "until the archive is deleted.",
        environment=environment,
    )
    lines = ["### Cleanup of the legacy activity log", "\n".join(summary).strip()]
    tiers = facts.get("tiers", {})
    if tiers:
        lines.append(
            "**Trigger tiers**: "
            + ", ".join(f"{k}: {v}" for k, v in tiers.get("tiers", {}).items())
            + f"; logging triggers left: {tiers.get('logging_triggers_left')}"
        )
    for suite, v in (facts.get("validation") or {}).items():
        lines.append(
            f"**Validation `{suite}`**: passed {v.get('run_at', '')} ({v.get('age_hours', '?')} h ago)"
        )
    q = facts.get("quarantine") or {}
    lines.append(f"**Quarantine**: {q.get('quarantined', 0)} rows, {q.get('open', 0)} open")
    if facts.get("source_rows") is not None:
        lines.append(
            f"**{facts.get('source_table')}**: {facts['source_rows']} rows (estimate) will be archived as "
            f"`{facts.get('archive')}`, kept {facts.get('retention_days')} days"
        )
    lines += [
        "",
        "Will: stop publish_activity writing the old table, move it into the migration schema, drop "
        f"{facts.get('legacy_functions', '?')} legacy trigger functions (backed up), "
        + (
            "create the compatibility view `public.activity_logs`."
            if facts.get("keep_compat_view")
            else "leave no object under the old name."
        ),
    ]
    return "\n\n".join(lines)
