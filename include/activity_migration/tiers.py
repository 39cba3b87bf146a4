"""Trigger tiers of phase 5: plan (which logging triggers each tier removes), back up, drop, restore.

The plan is discovered, never listed: ``catalog.logging_triggers`` finds every trigger whose
function writes the source table or publishes events (transitively), and the config's tiers
claim tables. A logging trigger on a table no tier claims, a claimed table that does not
exist, or a claimed table without logging triggers (unless its tier is already dropped)
stops the plan with a message naming it.

Backups keep two forms of every definition: ``definition`` as the catalog prints it under
the session's search_path (what operators and tests compare), and ``details.qualified`` as
it prints under ``search_path = pg_catalog`` (fully qualified, safe to replay whatever the
restoring session's path is). Functions also keep owner, privileges and comment; triggers
keep ``tgenabled``, comment and the function they execute.

Dropping a tier is one transaction under ``lock_timeout`` with retries
(``db.run_ddl_with_retry``); a trigger function is dropped only when no remaining trigger
uses it and nothing else depends on it. Restoring replays the backups in one transaction
and puts ``tgenabled``, owner, privileges and comments back.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from . import catalog, ledger
from .config import MigrationConfig, load_config
from .db import connection, fetch_all, load_sql, run_ddl_with_retry, run_locked, scalar
from .errors import MigrationError, PreflightError
from .ledger import state_table

log = logging.getLogger(__name__)

PHASE = "p5_trigger_removal"
DONE_STATUSES = ("dropped", "verified")
_ENABLE_CLAUSE = {"D": "DISABLE TRIGGER", "R": "ENABLE REPLICA TRIGGER", "A": "ENABLE ALWAYS TRIGGER"}
T = TypeVar("T")


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


def _split(table: str) -> tuple[str, str]:
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
                conn, "SELECT to_regclass(format('%%I.%%I', %s::text, %s::text)) IS NOT NULL", _split(table)
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
            + ". Fix the tiers in the migration config (tiers[].tables) so that every logging trigger's table "
            ""
            "is claimed by exactly one tier and every claimed table has logging triggers."
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


# --- backup -----------------------------------------------------------------------------------------------


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
            conn.execute(
                upsert,
                {
                    "phase": PHASE,
                    "tier": plan.tier,
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
                },
            )
        for t in facts["triggers"]:
            conn.execute(
                upsert,
                {
                    "phase": PHASE,
                    "tier": plan.tier,
                    "object_type": "trigger",
                    "schema_name": t["schema_name"],
                    "object_name": t["trigger_name"],
                    "table_name": f"{t['schema_name']}.{t['table_name']}",
                    "identity": t["identity"],
                    "definition": t["definition"],
                    "enabled": t["enabled"],
                    "details": Jsonb(
                        {"qualified": t["qualified"], "comment": t["comment"], "function": t["function"]}
                    ),
                },
            )
        triggers = [
            {
                "identity": t["identity"],
                "table": f"{t['schema_name']}.{t['table_name']}",
                "trigger": t["trigger_name"],
                "function": t["function"],
                "enabled": t["enabled"],
            }
            for t in facts["triggers"]
        ]
        set_tier_state(
            conn,
            cfg,
            plan.tier,
            "backed_up",
            triggers=triggers,
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


# --- drop -------------------------------------------------------------------------------------------------


def _droppable_functions(conn: psycopg.Connection, facts: dict[str, Any]) -> tuple[list[dict], list[dict]]:
    """Split the tier's functions into (drop, keep): keep those other triggers or objects still use."""
    dropping = {t["trigger_oid"] for t in facts["triggers"]}
    drop, keep = [], []
    for f in facts["functions"]:
        users = fetch_all(
            conn, load_sql("p5_trigger_removal/18_select_function_users.sql"), {"f": f["function_oid"]}
        )
        others = [u["what"] for u in users if u["oid"] not in dropping]
        (keep if others else drop).append({**f, "kept_for": others})
    return drop, keep


def _check_backups_current(conn: psycopg.Connection, cfg: MigrationConfig, facts: dict[str, Any]) -> None:
    """Refuse to drop anything whose backup is missing or differs from what is live."""
    want = {("trigger", t["identity"]): t["qualified"] for t in facts["triggers"]}
    want.update({("function", f["qualified_identity"]): f["qualified"] for f in facts["functions"]})
    have = {}
    for kind in ("trigger", "function"):
        for b in backups(conn, cfg, kind, identities=[i for k, i in want if k == kind]):
            have[(kind, b["identity"])] = (b["details"] or {}).get("qualified")
    bad = [f"{k} {i}" for (k, i), d in want.items() if have.get((k, i)) != d]
    if bad:
        raise PreflightError(
            f"no current backup for {', '.join(sorted(bad))}: run the tier's backup step first "
            "(a definition changed since the backup, or it was never taken)"
        )


def _can_shorten_deadlock_timeout(conn: psycopg.Connection) -> bool:
    try:
        with conn.transaction():
            return bool(scalar(conn, "SELECT has_parameter_privilege('deadlock_timeout', 'SET')"))
    except psycopg.Error:  # before PostgreSQL 15: superusers only
        return bool(scalar(conn, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"))


def drop_tier(dsn: str, cfg: MigrationConfig, tier: int) -> dict[str, Any]:
    """In one transaction, drop every logging trigger of the tier; record the tier as 'dropped'.

    Needs a current backup of each trigger and function (else PreflightError). Functions no
    remaining trigger (or other object) uses are dropped too; the others are kept and named
    in the result. Our session shortens its own ``deadlock_timeout`` when allowed, so that in
    a lock cycle with an application transaction it is the DDL that gives way and retries,
    never the application's write.
    """
    with connection(dsn) as conn:
        plan = plan_tier(conn, cfg, tier)
        facts = live_facts(conn, plan)
        if not facts["triggers"]:
            if plan.status not in DONE_STATUSES:
                set_tier_state(conn, cfg, tier, "dropped")
                conn.commit()
            return {
                "tier": tier,
                "dropped_triggers": [],
                "dropped_functions": [],
                "kept_functions": [],
                "note": f"nothing to drop (tier status {plan.status})",
            }
        _check_backups_current(conn, cfg, facts)
        drop_fns, keep_fns = _droppable_functions(conn, facts)
        short_deadlock = _can_shorten_deadlock_timeout(conn)
        conn.rollback()
    statements: list[sql.Composable] = []
    if short_deadlock:
        statements.append(sql.SQL("SET LOCAL deadlock_timeout = '100ms'"))
    tables = sorted({(t["schema_name"], t["table_name"]) for t in facts["triggers"]})
    statements.append(
        sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(
            sql.SQL(", ").join(sql.Identifier(s, t) for s, t in tables)
        )
    )
    for t in facts["triggers"]:
        statements.append(
            sql.SQL("DROP TRIGGER IF EXISTS {} ON {}").format(
                sql.Identifier(t["trigger_name"]), sql.Identifier(t["schema_name"], t["table_name"])
            )
        )
    for f in drop_fns:
        statements.append(
            sql.SQL("DROP FUNCTION IF EXISTS {}({})").format(
                sql.Identifier(f["schema_name"], f["function_name"]), sql.SQL(f["identity_args"])
            )
        )
    # Recorded in the same transaction as the drop. run_ddl_with_retry runs plain statements,
    # so the values are composed as literals (they are ours: an int and JSON we built).
    statements.append(
        load_sql(
            "p5_trigger_removal/19_record_tier_dropped.sql",
            state=cfg.state_schema,
            tier=sql.Literal(tier),
            details=sql.Literal(
                ledger.dumps(
                    {
                        "dropped_functions": [f["qualified_identity"] for f in drop_fns],
                        "kept_functions": [f["qualified_identity"] for f in keep_fns],
                    }
                )
            ),
        )
    )
    started = time.monotonic()
    run_ddl_with_retry(
        dsn, statements, lock_timeout_ms=cfg.safety.lock_timeout_ms, attempts=cfg.safety.ddl_attempts
    )
    return {
        "tier": tier,
        "dropped_triggers": [t["identity"] for t in facts["triggers"]],
        "dropped_functions": [f["qualified_identity"] for f in drop_fns],
        "kept_functions": [{"function": f["qualified_identity"], "used_by": f["kept_for"]} for f in keep_fns],
        "seconds": round(time.monotonic() - started, 3),
    }


# --- restore ----------------------------------------------------------------------------------------------


def _with_lock_retry(dsn: str, cfg: MigrationConfig, body: Callable[[psycopg.Connection], T]) -> T:
    """``db.run_locked`` with this session's ``deadlock_timeout`` short where allowed: in a lock
    cycle with an application transaction the DDL gives way and retries, never the write."""

    def shortened(conn: psycopg.Connection) -> T:
        if _can_shorten_deadlock_timeout(conn):
            conn.execute("SET LOCAL deadlock_timeout = '100ms'")
        return body(conn)

    return run_locked(
        dsn,
        shortened,
        lock_timeout_ms=cfg.safety.lock_timeout_ms,
        attempts=cfg.safety.ddl_attempts,
        what="the tier's DDL",
    )


def _privileges(conn: psycopg.Connection, identity: str) -> list[dict]:
    row = fetch_all(
        conn,
        load_sql("p5_trigger_removal/02_select_function_facts.sql"),
        {"oids": [scalar(conn, "SELECT to_regprocedure(%s)::oid", (identity,))]},
    )
    return row[0]["privileges"] if row else []


def _role(name: str) -> sql.Composable:
    return sql.SQL("PUBLIC") if name == "PUBLIC" else sql.Identifier(name)


def _restore_function(conn: psycopg.Connection, b: dict[str, Any]) -> None:
    d = b["details"] or {}
    conn.execute(d["qualified"])
    fn = sql.SQL("{}({})").format(
        sql.Identifier(b["schema_name"], b["object_name"]), sql.SQL(d.get("identity_args", ""))
    )
    owner = d.get("owner")
    if owner and scalar(conn, "SELECT 1 FROM pg_roles WHERE rolname = %s", (owner,)):
        conn.execute(sql.SQL("ALTER FUNCTION {} OWNER TO {}").format(fn, sql.Identifier(owner)))
    now = _privileges(conn, b["identity"])
    want = d.get("privileges") or []
    key = lambda p: (p["grantee"], p["privilege"], bool(p["grantable"]))  # noqa: E731
    if sorted(map(key, now)) != sorted(map(key, want)):
        for grantee in sorted({p["grantee"] for p in now}):
            conn.execute(sql.SQL("REVOKE ALL ON FUNCTION {} FROM {}").format(fn, _role(grantee)))
        for p in want:
            conn.execute(
                sql.SQL("GRANT {} ON FUNCTION {} TO {}{}").format(
                    sql.SQL(p["privilege"]),
                    fn,
                    _role(p["grantee"]),
                    sql.SQL(" WITH GRANT OPTION" if p["grantable"] else ""),
                )
            )
    conn.execute(sql.SQL("COMMENT ON FUNCTION {} IS {}").format(fn, sql.Literal(d.get("comment"))))


def _restore_trigger(conn: psycopg.Connection, b: dict[str, Any]) -> None:
    d = b["details"] or {}
    conn.execute(d["qualified"])
    schema, table = _split(b["table_name"])
    clause = _ENABLE_CLAUSE.get(str(b["enabled"] or "O"))
    if clause:
        conn.execute(
            sql.SQL("ALTER TABLE {} {} {}").format(
                sql.Identifier(schema, table), sql.SQL(clause), sql.Identifier(b["object_name"])
            )
        )
    if d.get("comment") is not None:
        conn.execute(
            sql.SQL("COMMENT ON TRIGGER {} ON {} IS {}").format(
                sql.Identifier(b["object_name"]), sql.Identifier(schema, table), sql.Literal(d["comment"])
            )
        )


def restore_tier(dsn: str, cfg: MigrationConfig, tier: int) -> dict[str, Any]:
    """Recreate the tier's backed-up triggers (and any missing function they execute) in one transaction.

    Triggers still present are left alone; the tier is marked 'restored'. A tier never
    backed up has nothing to restore (no-op).
    """
    cfg.tier(tier)
    with connection(dsn) as conn:
        if not ledger.state_schema_exists(conn, cfg):
            return {
                "tier": tier,
                "restored_triggers": [],
                "note": "no state schema: nothing was ever dropped",
            }
        trig_backups = backups(conn, cfg, "trigger", tier=tier)
        status = (tier_states(conn, cfg).get(tier) or {}).get("status")
    if not trig_backups:
        return {
            "tier": tier,
            "restored_triggers": [],
            "restored_functions": [],
            "note": "no backup for this tier",
        }

    def body(conn: psycopg.Connection) -> dict[str, Any]:
        live = {
            t["schema_name"] + "." + t["table_name"] + "." + t["trigger_name"]
            for t in catalog.all_triggers(conn)
        }
        missing = [b for b in trig_backups if b["identity"] not in live]
        fn_ids = sorted({(b["details"] or {}).get("function") for b in missing} - {None})
        fn_backups = (
            {b["identity"]: b for b in backups(conn, cfg, "function", identities=fn_ids)} if fn_ids else {}
        )
        restored_fns = []
        for ident in fn_ids:
            if scalar(conn, "SELECT to_regprocedure(%s) IS NOT NULL", (ident,)):
                continue
            if ident not in fn_backups:
                raise MigrationError(
                    f"cannot restore tier {tier}: function {ident} is gone and has no backup"
                )
            _restore_function(conn, fn_backups[ident])
            restored_fns.append(ident)
        if missing:
            tables = sorted({_split(b["table_name"]) for b in missing})
            conn.execute(
                sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(
                    sql.SQL(", ").join(sql.Identifier(s, t) for s, t in tables)
                )
            )
        for b in missing:
            _restore_trigger(conn, b)
        ids = [b["identity"] for b in missing] + restored_fns
        if ids:
            conn.execute(
                sql.SQL(
                    "UPDATE {} SET restored_at = clock_timestamp() WHERE phase = %s AND identity = ANY(%s)"
                ).format(state_table(cfg, "ddl_backups")),
                (PHASE, ids),
            )
        if missing or status in DONE_STATUSES or status == "backed_up":
            set_tier_state(conn, cfg, tier, "restored")
        return {
            "tier": tier,
            "restored_triggers": [b["identity"] for b in missing],
            "restored_functions": restored_fns,
            "previous_status": status,
        }

    return _with_lock_retry(dsn, cfg, body)


def restore_all(dsn: str, cfg: MigrationConfig) -> list[dict[str, Any]]:
    """Restore every tier, newest first (each tier its own transaction)."""
    return [restore_tier(dsn, cfg, t.tier) for t in sorted(cfg.tiers, key=lambda t: -t.tier)]
