"""One picture of the migration, read from the state schema: for the CLI and the UI page.

Each section is a function ``(conn, cfg) -> dict`` named in ``SECTIONS``; a section that
fails is reported as such, never hides the others. Phases add their section here.
"""

from __future__ import annotations

import importlib
from typing import Any

import psycopg

from . import ledger
from .config import MigrationConfig, load_config

# "module:function" of every status section, in display order.
SECTIONS: list[str] = [
    "activity_migration.status:phases_section",
    "activity_migration.phases.p3_read_path:read_path_section",
    "activity_migration.phases.p6_cleanup:cleanup_section",
    "activity_migration.phases.p2_dual_write:dual_write_section",
    "activity_migration.phases.p5_trigger_removal:tiers_section",
    "activity_migration.backfill.progress:backfill_section",
    "activity_migration.validation.report:validation_section",
    "activity_migration.event_types.registry:event_types_section",
]


def phases_section(conn: psycopg.Connection, cfg: MigrationConfig) -> dict[str, Any]:
    """Per phase: the newest ledger row of each phase."""
    if not ledger.state_schema_exists(conn, cfg):
        return {"state_schema": f"{cfg.state_schema} not created yet (phase 1 has not run)", "phases": {}}
    phases = {}
    for phase in ledger.PHASES:
        row = ledger.last_step(conn, phase, cfg=cfg)
        phases[phase] = (
            None
            if row is None
            else {
                "step": row["step"],
                "status": row["status"],
                "environment": row["environment"],
                "mode": row["mode"],
                "actor": row["actor"],
                "at": (row["finished_at"] or row["started_at"]).isoformat(),
                "alive": ledger.worker_alive((row["details"] or {}).get("worker"))
                if row["status"] == "started"
                else None,
            }
        )
    return {**current_phase(phases), "phases": phases}


def current_phase(phases: dict[str, dict[str, Any] | None]) -> dict[str, Any]:
    """The running phase (its newest row is an unfinished ``started``), else the last finished one.

    ``current_phase`` is the phase id; ``current_state`` says which: ``running``, ``interrupted``
    (a started row whose process is gone: ``alive`` is False) or ``last finished``.
    """
    rows = {p: r for p, r in phases.items() if r}
    started = [p for p, r in rows.items() if r["status"] == "started"]
    for state, found in (
        ("running", [p for p in started if rows[p].get("alive") is not False]),
        ("interrupted", [p for p in started if rows[p].get("alive") is False]),
    ):
        if found:
            return {"current_phase": max(found, key=lambda p: rows[p]["at"]), "current_state": state}
    done = [p for p in ledger.PHASES if p in rows and rows[p]["status"] == "succeeded"]
    return {"current_phase": done[-1] if done else None, "current_state": "last finished" if done else None}


def collect(conn: psycopg.Connection, cfg: MigrationConfig | None = None) -> dict[str, Any]:
    cfg = cfg or load_config()
    out: dict[str, Any] = {}
    for ref in SECTIONS:
        module_name, func_name = ref.split(":")
        key = func_name.removesuffix("_section")
        try:
            out[key] = getattr(importlib.import_module(module_name), func_name)(conn, cfg)
        except Exception as exc:  # one broken section must not hide the rest
            conn.rollback()
            out[key] = {"error": f"{type(exc).__name__}: {exc}"}
    return out
