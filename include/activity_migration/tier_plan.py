"""Trigger tiers of phase 5, the plan: which logging triggers each tier removes, and its recorded status.

The plan is discovered, never listed: ``catalog.logging_triggers`` finds every trigger whose
function writes the source table or publishes events (transitively), and the config's tiers
claim tables. A logging trigger on a table no tier claims, a claimed table that does not
exist, or a claimed table without logging triggers (unless its tier is already dropped)
stops the plan with a message naming it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from . import catalog, ledger
from .config import MigrationConfig, load_config
from .db import fetch_all, load_sql, scalar
from .errors import PreflightError
from .ledger import state_table

PHASE = "p5_trigger_removal"
DONE_STATUSES = ("dropped", "verified")


@dataclass(frozen=True)
class TierPlan:
    """One tier as discovered now: its tables, its live logging triggers, its recorded status."""

    tier: int
    name: str
    tables: tuple[str, ...]
    triggers: tuple[catalog.LoggingTrigger, ...]
    status: str = "pending"
    state: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def done(self) -> bool:
        return self.status in DONE_STATUSES

    @property
    def functions(self) -> tuple[str, ...]:
        return tuple(sorted({t.function_identity for t in self.triggers}))

    def as_dict(self) -> dict[str, Any]:
        return {
            "tier": self.tier,
            "name": self.name,
            "tables": list(self.tables),
            "status": self.status,
            "triggers": [
                {
                    "table": t.table,
                    "trigger": t.trigger_name,
                    "function": t.function_identity,
                    "enabled": t.enabled,
                }
                for t in self.triggers
            ],
            "functions": list(self.functions),
            "recorded_triggers": len(self.state.get("triggers") or []),
            "improvement": self.state.get("improvement") or {},
        }


def split_table(table: str) -> tuple[str, str]:
    """``"schema.table"`` -> ``("schema", "table")``."""
    schema, _, name = table.partition(".")
    return schema, name


def tier_states(conn: psycopg.Connection, cfg: MigrationConfig) -> dict[int, dict[str, Any]]:
    """Rows of ``{state}.tier_state`` by tier (empty before phase 1 created the schema)."""
    if not ledger.state_schema_exists(conn, cfg):
        return {}
    rows = fetch_all(conn, sql.SQL("SELECT * FROM {} ORDER BY tier").format(state_table(cfg, "tier_state")))
    return {r["tier"]: r for r in rows}


def plan_tiers(conn: psycopg.Connection, cfg: MigrationConfig | None = None) -> dict[int, TierPlan]:
    """Discover the logging triggers and assign each to its tier; raise PreflightError on any mismatch."""
    cfg = cfg or load_config()
    triggers = catalog.logging_triggers(conn, cfg)
    states = tier_states(conn, cfg)
    unclaimed = [t for t in triggers if cfg.tier_of_table(t.table) is None]
    problems = [
        f"logging trigger {t.identity} (function {t.function_identity}) is on table {t.table}, "
        f"which no tier claims"
        for t in unclaimed
    ]
    by_table: dict[str, list[catalog.LoggingTrigger]] = {}
    for t in triggers:
        by_table.setdefault(t.table, []).append(t)
    for tier in cfg.tiers:
        status = (states.get(tier.tier) or {}).get("status", "pending")
        for table in tier.table_names:
            if not scalar(
                conn,
                "SELECT to_regclass(format('%%I.%%I', %s::text, %s::text)) IS NOT NULL",
                split_table(table),
            ):
                problems.append(f"tier {tier.tier} claims table {table}, which does not exist")
            elif table not in by_table and status not in DONE_STATUSES:
                problems.append(
                    f"tier {tier.tier} claims table {table}, which has no logging trigger "
                    f"(and tier {tier.tier} is not recorded as dropped)"
                )
    if problems:
        raise PreflightError(
            "trigger tiers do not match the catalog: "
            + "; ".join(problems)
            + ". Fix the tiers in the migration config (tiers[].tables) so that every logging trigger's "
            "table is claimed by exactly one tier and every claimed table has logging triggers."
        )
    plans = {}
    for tier in cfg.tiers:
        st = states.get(tier.tier) or {}
        plans[tier.tier] = TierPlan(
            tier=tier.tier,
            name=tier.name,
            tables=tuple(tier.table_names),
            triggers=tuple(t for tbl in tier.table_names for t in by_table.get(tbl, [])),
            status=st.get("status", "pending"),
            state=st,
        )
    return plans


def plan_tier(conn: psycopg.Connection, cfg: MigrationConfig, tier: int) -> TierPlan:
    cfg.tier(tier)  # ConfigError naming the tiers when it does not exist
    return plan_tiers(conn, cfg)[tier]


def set_tier_state(
    conn: psycopg.Connection,
    cfg: MigrationConfig,
    tier: int,
    status: str,
    *,
    triggers: list | None = None,
    improvement: dict | None = None,
    details: dict | None = None,
) -> None:
    """Upsert the tier's status (and triggers/improvement/details when given). No commit."""
    conn.execute(
        load_sql("p5_trigger_removal/04_upsert_tier_state.sql", state=cfg.state_schema),
        {
            "tier": tier,
            "status": status,
            "triggers": None if triggers is None else Jsonb(triggers),
            "improvement": None if improvement is None else Jsonb(improvement),
            "details": None if details is None else Jsonb(details),
        },
    )
