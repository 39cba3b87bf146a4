"""Trigger tiers of phase 5, the backup: definitions of a tier's live triggers and functions, kept.

Backups keep two forms of every definition: ``definition`` as the catalog prints it under
the session's search_path (what operators and tests compare), and ``details.qualified`` as
it prints under ``search_path = pg_catalog`` (fully qualified, safe to replay whatever the
restoring session's path is). Functions also keep owner, privileges and comment; triggers
keep ``tgenabled``, comment and the function they execute.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from . import ledger
from .config import MigrationConfig
from .db import fetch_all, load_sql
from .tier_plan import PHASE, TierPlan, set_tier_state


def _trigger_oids(conn: psycopg.Connection, plan: TierPlan) -> list[int]:
    if not plan.triggers:
        return []
    rows = fetch_all(
        conn,
        load_sql("p5_trigger_removal/17_select_trigger_oids.sql"),
        {"identities": [t.identity for t in plan.triggers]},
    )
    return [r["oid"] for r in rows]


def live_facts(conn: psycopg.Connection, plan: TierPlan) -> dict[str, Any]:
    """Definitions of the tier's live triggers and their functions, printed and qualified.

    Returns ``{"triggers": [...], "functions": [...]}``; each entry has ``definition``
    (session search_path) and ``qualified`` (search_path = pg_catalog).
    """
    oids = _trigger_oids(conn, plan)
    if not oids:
        return {"triggers": [], "functions": []}
    started_tx = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    with conn.transaction():
        printed_t = fetch_all(
            conn, load_sql("p5_trigger_removal/01_select_trigger_facts.sql"), {"oids": oids}
        )
        foids = sorted({r["function_oid"] for r in printed_t})
        printed_f = fetch_all(
            conn, load_sql("p5_trigger_removal/02_select_function_facts.sql"), {"oids": foids}
        )
        conn.execute("SET LOCAL search_path = pg_catalog")
        qual_t = {
            r["trigger_oid"]: r
            for r in fetch_all(
                conn, load_sql("p5_trigger_removal/01_select_trigger_facts.sql"), {"oids": oids}
            )
        }
        qual_f = {
            r["function_oid"]: r
            for r in fetch_all(
                conn, load_sql("p5_trigger_removal/02_select_function_facts.sql"), {"oids": foids}
            )
        }
    if started_tx and not conn.autocommit:
        conn.commit()
    functions = []
    for f in printed_f:
        q = qual_f[f["function_oid"]]
        functions.append({**f, "qualified": q["definition"], "qualified_identity": q["identity"]})
    fid = {f["function_oid"]: f["qualified_identity"] for f in functions}
    triggers = []
    for t in printed_t:
        q = qual_t[t["trigger_oid"]]
        triggers.append(
            {
                **t,
                "enabled": str(t["enabled"]),
                "qualified": q["definition"],
                "identity": f"{t['schema_name']}.{t['table_name']}.{t['trigger_name']}",
                "function": fid[t["function_oid"]],
            }
        )
    return {"triggers": triggers, "functions": functions}


def _function_backup(tier: int, f: dict[str, Any]) -> dict[str, Any]:
    """The ``ddl_backups`` row of one trigger function (as ``live_facts`` describes it)."""
    return {
        "phase": PHASE,
        "tier": tier,
        "object_type": "function",
        "schema_name": f["schema_name"],
        "object_name": f["function_name"],
        "table_name": None,
        "identity": f["qualified_identity"],
        "definition": f["definition"],
        "enabled": None,
        "details": Jsonb(
            {
                "qualified": f["qualified"],
                "owner": f["owner"],
                "comment": f["comment"],
                "privileges": f["privileges"],
                "identity_args": f["identity_args"],
                "printed_identity": f["identity"],
            }
        ),
    }


def _trigger_backup(tier: int, t: dict[str, Any]) -> dict[str, Any]:
    """The ``ddl_backups`` row of one trigger (as ``live_facts`` describes it)."""
    return {
        "phase": PHASE,
        "tier": tier,
        "object_type": "trigger",
        "schema_name": t["schema_name"],
        "object_name": t["trigger_name"],
        "table_name": f"{t['schema_name']}.{t['table_name']}",
        "identity": t["identity"],
        "definition": t["definition"],
        "enabled": t["enabled"],
        "details": Jsonb({"qualified": t["qualified"], "comment": t["comment"], "function": t["function"]}),
    }


def _recorded_triggers(facts: dict[str, Any]) -> list[dict[str, Any]]:
    """The triggers as ``tier_state.triggers`` records them."""
    return [
        {
            "identity": t["identity"],
            "table": f"{t['schema_name']}.{t['table_name']}",
            "trigger": t["trigger_name"],
            "function": t["function"],
            "enabled": t["enabled"],
        }
        for t in facts["triggers"]
    ]


def backup_tier(conn: psycopg.Connection, cfg: MigrationConfig, plan: TierPlan) -> dict[str, Any]:
    """Back up the tier's live triggers and their functions into ``{state}.ddl_backups`` (idempotent).

    A tier already dropped has nothing live to back up: its earlier backup stands. Commits.
    """
    ledger.ensure_state_schema(conn, cfg)
    if plan.done and not plan.triggers:
        return {
            "tier": plan.tier,
            "status": plan.status,
            "triggers": 0,
            "functions": 0,
            "note": "tier already dropped: the existing backup stands",
        }
    facts = live_facts(conn, plan)
    upsert = load_sql("p5_trigger_removal/03_upsert_ddl_backup.sql", state=cfg.state_schema)
    with conn.transaction():
        for f in facts["functions"]:
            conn.execute(upsert, _function_backup(plan.tier, f))
        for t in facts["triggers"]:
            conn.execute(upsert, _trigger_backup(plan.tier, t))
        set_tier_state(
            conn,
            cfg,
            plan.tier,
            "backed_up",
            triggers=_recorded_triggers(facts),
            details={"name": plan.name, "tables": list(plan.tables)},
        )
    if not conn.autocommit:
        conn.commit()
    return {
        "tier": plan.tier,
        "status": "backed_up",
        "triggers": len(facts["triggers"]),
        "functions": len(facts["functions"]),
        "backed_up": [t["identity"] for t in facts["triggers"]],
    }


def backups(
    conn: psycopg.Connection,
    cfg: MigrationConfig,
    object_type: str,
    *,
    tier: int | None = None,
    identities: list[str] | None = None,
) -> list[dict[str, Any]]:
    return fetch_all(
        conn,
        load_sql("p5_trigger_removal/07_select_tier_backups.sql", state=cfg.state_schema),
        {"phase": PHASE, "tier": tier, "object_type": object_type, "identities": identities},
    )
