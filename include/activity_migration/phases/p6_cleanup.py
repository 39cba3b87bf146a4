"""Phase 6: cleanup. Archive the legacy table, stop writing it, drop the old trigger functions.

Gates (each refuses with a message naming what is missing): all tiers done, the validation
suites passed recently, no unacknowledged quarantine rows, a staging rehearsal (production),
a person's approval (the Airflow DAG adds the last two).

Steps (each a ledger row under phase ``p6_cleanup``):

1. ``backup``: publish_activity's current (dual-write) definition and every legacy trigger
   function into ``ddl_backups`` (phase ``p6_cleanup``);
2. ``archive``: publish_activity back to its events-only form (one short transaction), a
   wait until every transaction older than that switch has ended (a writer inside the old
   body must not find the table gone), then ONE transaction under lock_timeout:
   ``public.activity_logs`` moved to ``{state}.activity_logs_archive_<YYYYMMDD>``
   (metadata only, instant, reversible) and, when ``keep_compat_view``, a view named
   ``public.activity_logs`` in the old shape over events, so readers of the old name keep
   working;
3. ``checksum``: row count and checksum of the archive in ``{state}.archives``;
4. ``drop_legacy_functions``: the backed-up legacy functions dropped.

``delete_archive`` (separately approved, after the retention) drops the archive for good;
from then on :func:`rollback` refuses.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from .. import ledger, privileges
from ..catalog import logging_function_oids, table_columns
from ..config import MigrationConfig, load_config
from ..db import connection, fetch_all, load_sql, run_sql_file, scalar
from ..errors import MigrationError, PreflightError
from ..ledger import RunContext, state_table
from ._common import (
    INTERNAL_PUBLISH,
    publish_body_parts,
    publish_header,
    publish_identity,
    relation_kind,
    wait_for_older_transactions,
)
from .p3_compat_view import create_compat_view
from .p6_archive import (  # noqa: F401
    ARCHIVE_PREFIX,
    DUAL_WRITE_SETTING,
    P6_SETTING,
    PHASE,
    archive_checksum,
    archive_config,
    archive_name,
    archive_parity,
    check_archive_deletion,
    current_archive,
    delete_archive,
    give_access_back,
    run_locked,
    take_access,
    verify_archive,
)
from .p6_gates import (  # noqa: F401
    VALIDATION_SUITES,
    acknowledge_quarantine,
    evidence_markdown,
    gate_quarantine,
    gate_tiers_done,
    gate_validation,
    quarantine_open,
)
from .p6_rollback import rollback  # noqa: F401

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- what to drop
def legacy_functions(conn: psycopg.Connection, cfg: MigrationConfig) -> list[str]:
    """regprocedure of every legacy trigger function left: logging functions returning trigger that
    no trigger uses, plus the ones phases 2/5 backed up that still exist."""
    writers = logging_function_oids(conn, cfg)
    rows = fetch_all(conn, load_sql("p6_cleanup/06_select_unused_trigger_functions.sql"))
    found = {
        r["ident"] for r in rows if r["oid"] in writers and not r["ident"].startswith(cfg.state_schema + ".")
    }
    if ledger.state_schema_exists(conn, cfg):
        for r in fetch_all(
            conn, load_sql("p6_cleanup/07_select_backed_up_trigger_functions.sql", state=cfg.state_schema)
        ):
            fn = scalar(
                conn,
                load_sql("p6_cleanup/08_select_unused_trigger_function.sql"),
                {"identity": r["identity"]},
            )
            if fn:
                found.add(fn)
    return sorted(found)


def _backup(conn: psycopg.Connection, cfg: MigrationConfig, identity: str) -> None:
    schema, name = scalar(
        conn, load_sql("p6_cleanup/09_select_function_schema_and_name.sql"), {"identity": identity}
    ).split("|", 1)
    conn.execute(
        load_sql("p6_cleanup/10_upsert_function_backup.sql", state=cfg.state_schema),
        {"phase": PHASE, "schema_name": schema, "object_name": name, "identity": identity},
    )


def is_applied(conn: psycopg.Connection, cfg: MigrationConfig | None = None) -> bool:
    cfg = cfg or load_config()
    return current_archive(conn, cfg) is not None


# --------------------------------------------------------------------------- apply
def plan(
    conn: psycopg.Connection, cfg: MigrationConfig, *, keep_compat_view: bool = True, retention_days: int = 30
) -> dict[str, Any]:
    kind = relation_kind(conn, cfg.source.schema, cfg.source.table)
    arch = current_archive(conn, cfg)
    return {
        "source_table": cfg.source_table,
        "source_kind": kind,
        "source_rows": scalar(
            conn, "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)", (cfg.source_table,)
        )
        if kind == "r"
        else None,
        "archive": arch["name"] if arch else archive_name(),
        "already_archived": arch is not None,
        "legacy_functions": len(legacy_functions(conn, cfg)),
        "keep_compat_view": keep_compat_view,
        "retention_days": retention_days,
    }


def gather_facts(
    dsn: str,
    cfg: MigrationConfig | None = None,
    *,
    max_age_hours: float = 24,
    environment: str | None = None,
    keep_compat_view: bool = True,
    retention_days: int = 30,
) -> dict[str, Any]:
    """Run all three gates and return their facts (raises GateClosed at the first that refuses)."""
    cfg = cfg or load_config()
    with connection(dsn) as conn:
        facts: dict[str, Any] = {
            "tiers": gate_tiers_done(conn, cfg),
            "validation": gate_validation(conn, cfg, max_age_hours=max_age_hours, environment=environment),
            "quarantine": gate_quarantine(conn, cfg),
        }
        facts.update(plan(conn, cfg, keep_compat_view=keep_compat_view, retention_days=retention_days))
    facts["markdown"] = evidence_markdown(facts, environment or "production")
    return facts


def backup(dsn: str, cfg: MigrationConfig | None = None, ctx: RunContext | None = None) -> dict[str, Any]:
    """Back up publish_activity (dual-write form) and every legacy trigger function (ddl_backups,
    p6_cleanup)."""
    cfg = cfg or load_config()
    with ledger.step(dsn, PHASE, "backup", ctx, cfg) as out:
        with connection(dsn) as conn:
            if current_archive(conn, cfg):
                out["skipped"] = "already archived: the backup of the pre-cleanup state is kept as it is"
                return out
            pub = publish_identity(cfg)
            if not scalar(conn, "SELECT to_regprocedure(%s) IS NOT NULL", (pub,)):
                raise PreflightError(f"{pub} does not exist: phases 1 and 2 must be applied before cleanup")
            funcs = legacy_functions(conn, cfg)
            for ident in [pub] + funcs:
                _backup(conn, cfg, ident)
            ledger.set_setting(conn, "p6_backup_functions", funcs, by=PHASE, cfg=cfg)
            conn.commit()
        out.update({"publish_activity": pub, "legacy_functions": funcs})
    return out


def _archive_preconditions(
    conn: psycopg.Connection, cfg: MigrationConfig
) -> tuple[list[tuple[str, str]], Any]:
    """Refuse unless the source is a table and publish_activity is backed up; return the source's
    columns (for the compat view) and the dual-write setting before cleanup (for the rollback)."""
    if relation_kind(conn, cfg.source.schema, cfg.source.table) != "r":
        raise PreflightError(f"{cfg.source_table} is not a table: nothing to archive")
    backed_up = scalar(
        conn,
        sql.SQL("SELECT count(*) FROM {} WHERE phase = %s AND identity = %s").format(
            state_table(cfg, "ddl_backups")
        ),
        (PHASE, publish_identity(cfg)),
    )
    if not backed_up:
        raise PreflightError("run the p6_cleanup backup step first (publish_activity is not backed up)")
    return table_columns(conn, cfg.source.schema, cfg.source.table), ledger.get_setting(
        conn, DUAL_WRITE_SETTING, None, cfg=cfg
    )


def _stop_writing(conn: psycopg.Connection, cfg: MigrationConfig) -> Any:
    """publish_activity writes events only (phase 1's form): nothing writes the old table after this.
    Returns the horizon: events without a legacy id from then on were born after cleanup."""
    parts = publish_body_parts(cfg.state_schema)
    run_sql_file(
        conn,
        "p1_infrastructure/04_create_publish_activity_internal.sql",
        state=cfg.state_schema,
        events=sql.Identifier(cfg.target_schema, cfg.target_table),
        publish_header=publish_header(sql.Identifier(cfg.state_schema, INTERNAL_PUBLISH)),
        declare_inputs=parts["declare_inputs"],
        check_source=parts["check_source"],
        raise_rejected=parts["raise_rejected"],
    )
    ledger.set_setting(conn, DUAL_WRITE_SETTING, {"enabled": False, "disabled_by": PHASE}, by=PHASE, cfg=cfg)
    # Transactions already open may still write an event with an older created_at: the horizon covers them.
    return scalar(conn, load_sql("p6_cleanup/11_select_writers_horizon.sql"))


def _move_into_archive(
    conn: psycopg.Connection,
    cfg: MigrationConfig,
    name: str,
    columns: list[tuple[str, str]],
    since: Any,
    dual_before: Any,
    keep_compat_view: bool,
    retention_days: int,
) -> dict[str, Any]:
    """The table into the archive (metadata only), its access taken, the compat view, the record."""
    run_sql_file(
        conn,
        "p6_cleanup/01_archive_source_table.sql",
        source=sql.Identifier(cfg.source.schema, cfg.source.table),
        state=cfg.state_schema,
        source_name=cfg.source.table,
        archive_name=name,
    )
    # Nobody but the owner reads the archive: its grants are kept for the rollback.
    access = take_access(conn, cfg.state_schema, name)
    privileges.lock_down_state_schema(conn, cfg)
    # Readers of the old name keep working.
    view = (
        create_compat_view(
            conn, cfg, cfg.source.schema, cfg.source.table, columns, grants_key="legacy_name_view"
        )
        if keep_compat_view
        else None
    )
    conn.execute(
        load_sql("p6_cleanup/12_upsert_archive_record.sql", state=cfg.state_schema),
        {
            "name": name,
            "source_table": cfg.source_table,
            "unlinked_since": since,
            "retention_days": int(retention_days),
            "access": Jsonb(access),
        },
    )
    ledger.set_setting(
        conn,
        P6_SETTING,
        {"archive": name, "dual_write_before": dual_before, "compat_view": bool(keep_compat_view)},
        by=PHASE,
        cfg=cfg,
    )
    return {"view": view, "since": since}


def archive(
    dsn: str,
    cfg: MigrationConfig | None = None,
    ctx: RunContext | None = None,
    *,
    keep_compat_view: bool = True,
    retention_days: int = 30,
) -> dict[str, Any]:
    """Atomically: publish_activity events-only, legacy table into the archive, compat view. Idempotent."""
    cfg = cfg or load_config()
    if not 0 <= int(retention_days) <= 3650:
        raise MigrationError(f"retention_days must be 0..3650, got {retention_days!r}")
    with ledger.step(dsn, PHASE, "archive", ctx, cfg) as out:
        with connection(dsn) as conn:
            existing = current_archive(conn, cfg)
            if existing:
                out.update({"archive": existing["name"], "skipped": "already archived"})
                return out
            columns, dual_before = _archive_preconditions(conn, cfg)
        name = archive_name()
        # 1. publish_activity events only (one short transaction).
        since = run_locked(dsn, cfg, lambda conn: _stop_writing(conn, cfg))
        # A writer that entered the old (dual-write) publish_activity before the switch may still be
        # about to insert into the old table: renaming it now would fail that application
        # transaction. Wait until every transaction older than the switch has ended.
        out["writers_drained"] = wait_for_older_transactions(dsn)
        if not out["writers_drained"]:
            raise MigrationError(
                "a transaction older than the publish_activity switch is still open after 30 s; "
                "the table was not moved (re-run the task: the switch is idempotent)"
            )
        # 2. the table into the archive and 3. the compat view, in one transaction.
        res = run_locked(
            dsn,
            cfg,
            lambda conn: _move_into_archive(
                conn, cfg, name, columns, since, dual_before, keep_compat_view, retention_days
            ),
        )
        out.update(
            {
                "archive": f"{cfg.state_schema}.{name}",
                "compat_view": res["view"],
                "unlinked_since": res["since"],
                "publish_activity": "events only",
            }
        )
    return out


def checksum(dsn: str, cfg: MigrationConfig | None = None, ctx: RunContext | None = None) -> dict[str, Any]:
    """Record row count and checksum of the current archive (once; re-runs compare instead)."""
    cfg = cfg or load_config()
    with ledger.step(dsn, PHASE, "checksum", ctx, cfg) as out:
        with connection(dsn) as conn:
            arch = current_archive(conn, cfg)
            if not arch or arch["deleted_at"]:
                raise MigrationError("no live archive to checksum")
            row = archive_checksum(conn, cfg, arch)
            if arch["checksum"] and arch["checksum"] != row["checksum"]:
                raise MigrationError(
                    f"archive {arch['name']} changed: checksum {row['checksum']} != recorded "
                    f"{arch['checksum']}"
                )
            conn.execute(
                sql.SQL("UPDATE {} SET rows = %s, checksum = %s WHERE name = %s").format(
                    state_table(cfg, "archives")
                ),
                (row["rows"], row["checksum"], arch["name"]),
            )
            conn.commit()
        out.update({"archive": arch["name"], "rows": row["rows"], "checksum": row["checksum"]})
    return out


def drop_legacy_functions(
    dsn: str, cfg: MigrationConfig | None = None, ctx: RunContext | None = None
) -> dict[str, Any]:
    """Drop the legacy trigger functions backed up in the ``backup`` step. Idempotent."""
    cfg = cfg or load_config()
    with ledger.step(dsn, PHASE, "drop_legacy_functions", ctx, cfg) as out:
        with connection(dsn) as conn:
            idents = [
                r["identity"]
                for r in fetch_all(
                    conn,
                    load_sql("p6_cleanup/13_select_legacy_function_backups.sql", state=cfg.state_schema),
                    {"phase": PHASE, "publish": publish_identity(cfg)},
                )
            ]
            has_trigger = load_sql("p6_cleanup/14_select_function_has_trigger.sql")
            used = [i for i in idents if scalar(conn, has_trigger, {"identity": i})]
        if used:
            raise MigrationError(f"legacy functions still used by triggers, not dropped: {used}")

        def body(conn: psycopg.Connection) -> None:
            for ident in idents:
                conn.execute(
                    sql.SQL("DROP FUNCTION IF EXISTS {}").format(
                        sql.SQL(
                            scalar(conn, "SELECT to_regprocedure(%s)::text", (ident,)) or "pg_catalog.none()"
                        )
                    )
                )

        if idents:
            run_locked(dsn, cfg, body)
        out["dropped"] = idents
    return out


def verify(dsn: str, cfg: MigrationConfig | None = None) -> dict[str, Any]:
    cfg = cfg or load_config()
    with connection(dsn) as conn:
        arch = current_archive(conn, cfg)
        problems = []
        if not arch:
            problems.append("no archive recorded")
        elif not arch["deleted_at"] and relation_kind(conn, cfg.state_schema, arch["name"]) != "r":
            problems.append(f"archive table {cfg.state_schema}.{arch['name']} missing")
        kind = relation_kind(conn, cfg.source.schema, cfg.source.table)
        if kind == "r":
            problems.append(f"{cfg.source_table} is still a table")
        d = scalar(conn, "SELECT pg_get_functiondef(to_regprocedure(%s))", (publish_identity(cfg),)) or ""
        if "activity_logs" in d.replace("activity_migration", ""):
            problems.append("publish_activity still mentions the legacy table")
    if problems or arch is None:  # no archive is one of the problems
        raise MigrationError("phase 6 verify failed: " + "; ".join(problems))
    return {
        "archive": arch["name"],
        "rows": arch["rows"],
        "checksum": arch["checksum"],
        "old_name_is": {"v": "compatibility view", None: "absent"}.get(kind, kind),
    }


# The phase's last step: every privilege on the migration's objects as privileges.py lists it.
privilege_audit = ledger.ledgered(PHASE, "privilege_audit")(privileges.audit_step)


def cleanup_section(conn: psycopg.Connection, cfg: MigrationConfig) -> dict[str, Any]:
    """Status section: the archive (if any), open quarantine rows, whether phase 6 can be undone."""
    arch = current_archive(conn, cfg)
    open_rows = sum(r["n"] for r in quarantine_open(conn, cfg))
    if not arch:
        return {"archive": None, "open_quarantine": open_rows}
    return {
        "archive": f"{cfg.state_schema}.{arch['name']}",
        "rows": arch["rows"],
        "checksum": arch["checksum"],
        "created_at": arch["created_at"].isoformat(),
        "retention_days": arch["retention_days"],
        "deleted_at": arch["deleted_at"].isoformat() if arch["deleted_at"] else None,
        "reversible": arch["deleted_at"] is None,
        "open_quarantine": open_rows,
    }
