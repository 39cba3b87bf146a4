"""The whole-migration rollback: return the database to the state before a chosen phase.

A plan is plain data: which phases to undo, newest first, each with the evidence that it is
applied (catalog and ledger) and what its rollback will do. :func:`execute` runs the plan's
steps in order; every phase rollback records itself in the ledger (phase of what is undone,
step ``rollback``), and the plan is recorded under phase ``rollback``.

Order: p6 (archive back to ``public.activity_logs``, dual write restored, events born after
cleanup copied back) → p5 (every tier's triggers and functions recreated from the backups) →
p4 (backfilled events are KEPT by default: they are correct data, and the events table goes
anyway when rolling back to before phase 1; ``delete_backfilled_events`` deletes them) → p3
(read source back to ``activity_logs``, feed objects dropped) → p2 (legacy functions restored
byte for byte, dual write off) → p1 (everything phase 1 created dropped; events archived in
the state schema first).

Refused, with the reason: undoing phase 6 after its archive was deleted.
"""

from __future__ import annotations

import importlib
import json
import logging
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from . import ledger
from .config import MigrationConfig, load_config
from .db import connection, fetch_all, load_sql, scalar
from .errors import ConfigError, GateClosed
from .ledger import RunContext, state_table

log = logging.getLogger(__name__)

PHASE = "rollback"
# to_phase value -> the first phase that is undone (everything from it on is undone).
TARGETS = {
    "before_p1": "p1_infrastructure",
    "before_p2": "p2_dual_write",
    "before_p3": "p3_read_path",
    "before_p4": "p4_backfill",
    "before_p5": "p5_trigger_removal",
    "before_p6": "p6_cleanup",
}
TARGET_TITLES = {
    "before_p1": "before phase 1 (infrastructure): remove everything the migration built",
    "before_p2": "before phase 2 (dual write): original trigger functions back",
    "before_p3": "before phase 3 (read path): read source activity_logs, feed objects removed",
    "before_p4": "before phase 4 (backfill)",
    "before_p5": "before phase 5 (trigger removal): every legacy trigger back",
    "before_p6": "before phase 6 (cleanup drop): activity_logs restored from the archive",
}
WHAT = {
    "p6_cleanup": "restore public.activity_logs from the archive (compat view dropped first), "
    "publish_activity "
    "dual write again, events written after cleanup copied back, legacy functions recreated",
    "p5_trigger_removal": "recreate every dropped legacy trigger and function from the phase-5 backups",
    "p4_backfill": "keep the backfilled events (correct data)",
    "p3_read_path": "read source back to activity_logs; drop event_feed, activity_logs_compat, "
    "activity_read_source(), the feed index, realtime membership added by phase 3",
    "p2_dual_write": "restore the original legacy trigger functions from the phase-2 backup; dual write off "
    "(events kept)",
    "p1_infrastructure": "drop events (rows archived in the state schema first), publish_activity and "
    "helpers, policies, indexes, analytics views",
}


@dataclass(frozen=True)
class PhaseStep:
    phase: str
    applied: bool
    evidence: dict[str, Any]
    action: str


@dataclass(frozen=True)
class RollbackPlan:
    to_phase: str
    steps: tuple[PhaseStep, ...]
    delete_backfilled_events: bool = False
    refused: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def to_undo(self) -> list[str]:
        return [s.phase for s in self.steps if s.applied]

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["to_undo"] = self.to_undo
        d["markdown"] = self.markdown()
        return json.loads(ledger.dumps(d))

    def markdown(self) -> str:
        lines = [f"### Roll back to **{self.to_phase}** ({TARGET_TITLES[self.to_phase]})", ""]
        if self.refused:
            lines.append(f"**REFUSED**: {self.refused}")
        undo = [s for s in self.steps if s.applied]
        if not undo:
            lines.append("Nothing to undo: no phase from the target on is applied.")
        for i, s in enumerate(undo, 1):
            ev = ", ".join(f"{k}: {v}" for k, v in s.evidence.items())
            lines.append(f"{i}. **{s.phase}**: {s.action}  \n   _evidence_: {ev}")
        skipped = [s.phase for s in self.steps if not s.applied]
        if skipped:
            lines.append("")
            lines.append("Not applied, nothing to undo: " + ", ".join(skipped))
        for n in self.notes:
            lines.append(f"> {n}")
        return "\n".join(lines)


def _phase_module(phase: str):
    return importlib.import_module(f"activity_migration.phases.{phase}")


def _ledger_applied(conn: psycopg.Connection, cfg: MigrationConfig, phase: str) -> bool:
    """The ledger's view: a succeeded step of ``phase`` newer than its last succeeded rollback.

    Gates, approvals, preflights and checks change nothing and do not count.
    """
    if not ledger.state_schema_exists(conn, cfg):
        return False
    return bool(
        scalar(conn, load_sql("rollback/01_select_phase_applied.sql", state=cfg.state_schema), {"p": phase})
    )


def _p6_evidence(conn: psycopg.Connection, cfg: MigrationConfig) -> dict[str, Any]:
    from .phases import p6_cleanup

    arch = p6_cleanup.current_archive(conn, cfg)
    return {
        "archive": arch["name"] if arch else None,
        "archive_deleted": bool(arch and arch["deleted_at"]),
        "applied": arch is not None,
    }


def _p5_evidence(conn: psycopg.Connection, cfg: MigrationConfig) -> dict[str, Any]:
    rows = (
        fetch_all(
            conn, sql.SQL("SELECT tier, status FROM {} ORDER BY tier").format(state_table(cfg, "tier_state"))
        )
        if ledger.state_schema_exists(conn, cfg)
        else []
    )
    removed = [r["tier"] for r in rows if r["status"] in ("backed_up", "dropped", "verified")]
    return {"tiers_not_restored": removed, "applied": bool(removed)}


def _p4_evidence(conn: psycopg.Connection, cfg: MigrationConfig) -> dict[str, Any]:
    state = ledger.state_schema_exists(conn, cfg)
    n = (
        scalar(
            conn,
            sql.SQL("SELECT count(*) FROM {} WHERE source = 'backfill'").format(
                sql.Identifier(cfg.target_schema, cfg.target_table)
            ),
        )
        if _events_exist(conn, cfg)
        else 0
    )
    chunks = (
        scalar(conn, sql.SQL("SELECT count(*) FROM {}").format(state_table(cfg, "backfill_chunks")))
        if state
        else 0
    )
    return {"backfilled_events": int(n or 0), "chunks": int(chunks or 0), "applied": bool(n or chunks)}


def _p3_evidence(conn: psycopg.Connection, cfg: MigrationConfig) -> dict[str, Any]:
    from .phases import p3_read_path

    state = ledger.state_schema_exists(conn, cfg)
    return {
        "feed_objects": p3_read_path.is_applied(conn),
        "read_source": p3_read_path.get_read_source(conn, cfg) if state else "activity_logs",
        "applied": p3_read_path.is_applied(conn),
    }


def _p2_evidence(conn: psycopg.Connection, cfg: MigrationConfig) -> dict[str, Any]:
    from .phases._common import dual_write_enabled

    state = ledger.state_schema_exists(conn, cfg)
    on = dual_write_enabled(conn, cfg) if state else False
    pending = (
        scalar(
            conn,
            sql.SQL("SELECT count(*) FROM {} WHERE phase = 'p2_dual_write' AND restored_at IS NULL").format(
                state_table(cfg, "ddl_backups")
            ),
        )
        if state
        else 0
    )
    return {"dual_write": on, "unrestored_backups": int(pending or 0), "applied": bool(on or pending)}


def _p1_evidence(conn: psycopg.Connection, cfg: MigrationConfig) -> dict[str, Any]:
    from .phases._common import publish_identity

    events_exist = _events_exist(conn, cfg)
    pub = bool(scalar(conn, "SELECT to_regprocedure(%s) IS NOT NULL", (publish_identity(cfg),)))
    return {"events_table": events_exist, "publish_activity": pub, "applied": events_exist or pub}


def _events_exist(conn: psycopg.Connection, cfg: MigrationConfig) -> bool:
    return bool(scalar(conn, "SELECT to_regclass(%s) IS NOT NULL", (cfg.target,)))


# What the database itself shows of each phase, by phase (independent of the ledger).
_EVIDENCE = {
    "p6_cleanup": _p6_evidence,
    "p5_trigger_removal": _p5_evidence,
    "p4_backfill": _p4_evidence,
    "p3_read_path": _p3_evidence,
    "p2_dual_write": _p2_evidence,
    "p1_infrastructure": _p1_evidence,
}


def _catalog_evidence(conn: psycopg.Connection, cfg: MigrationConfig, phase: str) -> dict[str, Any]:
    """What the database itself shows of ``phase`` (independent of the ledger)."""
    if phase not in _EVIDENCE:
        raise ConfigError(f"unknown phase {phase!r}")
    return _EVIDENCE[phase](conn, cfg)


def plan(
    conn: psycopg.Connection,
    to_phase: str,
    cfg: MigrationConfig | None = None,
    *,
    delete_backfilled_events: bool = False,
) -> RollbackPlan:
    """Which phase rollbacks run, newest first, and whether the rollback is possible at all."""
    cfg = cfg or load_config()
    if to_phase not in TARGETS:
        raise ConfigError(f"to_phase must be one of {sorted(TARGETS)}, got {to_phase!r}")
    first = ledger.PHASES.index(TARGETS[to_phase])
    steps, refused, notes = [], None, []
    for phase in reversed(ledger.PHASES[first:]):
        ev = _catalog_evidence(conn, cfg, phase)
        by_ledger = _ledger_applied(conn, cfg, phase)
        applied = bool(ev.pop("applied")) or by_ledger
        ev["ledger_says_applied"] = by_ledger
        action = WHAT[phase]
        if phase == "p4_backfill" and delete_backfilled_events:
            action = "delete the backfilled events (source 'backfill'), its quarantine rows and chunk plan"
        if phase == "p6_cleanup" and ev.get("archive_deleted"):
            refused = (
                f"phase 6 cannot be undone: its archive {ev['archive']} was deleted (the legacy rows are "
                f"gone from this database; restore from a database backup). Roll back to nothing earlier "
                f"than phase 6, or restore the archive first."
            )
        steps.append(PhaseStep(phase=phase, applied=applied, evidence=ev, action=action))
    if to_phase == "before_p1":
        notes.append("The state schema (ledger, backups, archives of rolled-back events) is kept.")
    return RollbackPlan(
        to_phase=to_phase,
        steps=tuple(steps),
        delete_backfilled_events=delete_backfilled_events,
        refused=refused,
        notes=tuple(notes),
    )


def make_plan(
    dsn: str,
    to_phase: str,
    cfg: MigrationConfig | None = None,
    ctx: RunContext | None = None,
    *,
    delete_backfilled_events: bool = False,
    record: bool = True,
) -> RollbackPlan:
    """:func:`plan` on a DSN; records it (phase ``rollback``, step ``plan``); GateClosed when refused."""
    cfg = cfg or load_config()
    with connection(dsn) as conn:
        p = plan(conn, to_phase, cfg, delete_backfilled_events=delete_backfilled_events)
        conn.commit()
        if record and ledger.state_schema_exists(conn, cfg):
            ledger.record(
                conn, PHASE, "plan", "failed" if p.refused else "succeeded", ctx, p.as_dict(), cfg=cfg
            )
    if p.refused:
        raise GateClosed(p.refused)
    return p


def run_phase_rollback(
    dsn: str,
    phase: str,
    cfg: MigrationConfig | None = None,
    ctx: RunContext | None = None,
    *,
    delete_backfilled_events: bool = False,
) -> dict[str, Any]:
    """Undo one phase by calling its module's rollback (each records itself in the ledger)."""
    cfg = cfg or load_config()
    ctx = ctx or RunContext()
    if phase == "p4_backfill" and not delete_backfilled_events:
        with connection(dsn) as conn:
            ev = _catalog_evidence(conn, cfg, phase)
            ledger.record(
                conn,
                phase,
                "rollback",
                "succeeded",
                ctx,
                {
                    "kept_backfilled_events": ev["backfilled_events"],
                    "reason": "backfilled events are correct copies of activity_logs rows; kept",
                },
                cfg=cfg,
            )
        return {"kept_backfilled_events": ev["backfilled_events"]}
    module = _phase_module(phase)
    if phase == "p5_trigger_removal":
        return module.rollback_all(dsn, cfg, ctx)
    return module.rollback(dsn, cfg, ctx)


def execute(
    dsn: str, the_plan: RollbackPlan, cfg: MigrationConfig | None = None, ctx: RunContext | None = None
) -> dict[str, Any]:
    """Run every applied step of the plan, newest phase first (stops at the first failure)."""
    cfg = cfg or load_config()
    if the_plan.refused:
        raise GateClosed(the_plan.refused)
    done: dict[str, Any] = {}
    for phase in the_plan.to_undo:
        log.info("rolling back %s", phase)
        done[phase] = run_phase_rollback(
            dsn, phase, cfg, ctx, delete_backfilled_events=the_plan.delete_backfilled_events
        )
    return done


def rollback_to(
    dsn: str,
    to_phase: str,
    cfg: MigrationConfig | None = None,
    ctx: RunContext | None = None,
    *,
    delete_backfilled_events: bool = False,
) -> dict[str, Any]:
    """Plan and execute (no approval: the DAG puts one between the two)."""
    p = make_plan(dsn, to_phase, cfg, ctx, delete_backfilled_events=delete_backfilled_events)
    return {"plan": p.as_dict(), "done": execute(dsn, p, cfg, ctx)}
