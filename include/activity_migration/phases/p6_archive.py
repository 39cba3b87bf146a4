"""Phase 6's archive of the legacy table: its name and record, the access taken from it and
given back, and its deletion for good (checked against events first)."""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import psycopg
from psycopg import sql

from .. import db, ledger
from ..config import MigrationConfig, load_config
from ..db import connection, fetch_all, fetch_one, fetch_row, load_sql, scalar
from ..errors import GateClosed
from ..ledger import RunContext, state_table
from ..validation.parity import VALIDATION_VIEWS

log = logging.getLogger(__name__)


PHASE = "p6_cleanup"
DUAL_WRITE_SETTING = "dual_write"
P6_SETTING = "p6_cleanup"  # {"archive": name, "dual_write_before": ..., "compat_view": bool}


ARCHIVE_PREFIX = "activity_logs_archive_"


def run_locked(
    dsn: str, cfg: MigrationConfig, body: Callable[[psycopg.Connection], Any], *, attempts: int | None = None
) -> Any:
    """Run ``body(conn)`` in one transaction under the config's lock_timeout, retried (db.run_locked)."""
    return db.run_locked(
        dsn, body, lock_timeout_ms=cfg.safety.lock_timeout_ms, attempts=attempts or cfg.safety.ddl_attempts
    )


def _grantee(name: str) -> sql.Composable:
    return sql.SQL("PUBLIC") if name == "PUBLIC" else sql.Identifier(name)


def _relation_grants(conn: psycopg.Connection, relation: sql.Identifier) -> list[dict[str, Any]]:
    rows = fetch_all(
        conn, load_sql("p6_cleanup/05_select_table_grants.sql"), {"table": relation.as_string(conn)}
    )
    return [{k: g[k] for k in ("grantee", "privilege", "grantable", "column_name")} for g in rows]


def take_access(conn: psycopg.Connection, schema: str, name: str) -> dict[str, Any]:
    """Remove every privilege others hold on the table (columns and its key sequence too); return
    them to give back. The archive is a copy of personal data: nobody but its owner reads it
    (docs/security.md)."""
    table = sql.Identifier(schema, name)
    sequences = {
        r["name"]: _relation_grants(conn, sql.Identifier(schema, r["name"]))
        for r in fetch_all(
            conn, load_sql("p6_cleanup/19_select_owned_sequences.sql"), {"table": table.as_string(conn)}
        )
    }
    access: dict[str, Any] = {
        "grants": _relation_grants(conn, table),
        "sequences": sequences,
        "row_security": bool(
            scalar(
                conn,
                "SELECT relrowsecurity FROM pg_class WHERE oid = to_regclass(%s)",
                (table.as_string(conn),),
            )
        ),
    }
    for relation, kind, grants in [(table, "TABLE", access["grants"])] + [
        (sql.Identifier(schema, name), "SEQUENCE", g) for name, g in sequences.items()
    ]:
        for grantee in dict.fromkeys(g["grantee"] for g in grants):
            conn.execute(
                sql.SQL("REVOKE ALL ON {} {} FROM {}").format(sql.SQL(kind), relation, _grantee(grantee))
            )
    return access


def _grant_back(
    conn: psycopg.Connection, relation: sql.Identifier, kind: str, grants: list[dict[str, Any]]
) -> None:
    order: dict[tuple[str | None, str], list[dict[str, Any]]] = {}
    for g in grants:
        order.setdefault((g["column_name"], g["grantee"]), []).append(g)
    for (column, grantee), rows in order.items():
        cols = sql.SQL(" ({})").format(sql.Identifier(column)) if column else sql.SQL("")
        for grantable in (False, True):
            privs = [r["privilege"] for r in rows if bool(r["grantable"]) == grantable]
            if privs:
                conn.execute(
                    sql.SQL("GRANT {}{} ON {} {} TO {}{}").format(
                        sql.SQL(", ").join(sql.SQL(p) for p in privs),
                        cols,
                        sql.SQL(kind),
                        relation,
                        _grantee(grantee),
                        sql.SQL(" WITH GRANT OPTION") if grantable else sql.SQL(""),
                    )
                )


def give_access_back(conn: psycopg.Connection, schema: str, name: str, access: dict[str, Any] | None) -> None:
    """Grant what :func:`take_access` revoked, in the ACL's order (so the catalog prints it as before)."""
    if not access:
        return
    table = sql.Identifier(schema, name)
    _grant_back(conn, table, "TABLE", access.get("grants") or [])
    for seq, grants in (access.get("sequences") or {}).items():
        _grant_back(conn, sql.Identifier(schema, seq), "SEQUENCE", grants)
    if not access.get("row_security"):
        conn.execute(sql.SQL("ALTER TABLE {} DISABLE ROW LEVEL SECURITY").format(table))


def archive_name(now: datetime | None = None) -> str:
    return ARCHIVE_PREFIX + (now or datetime.now(timezone.utc)).strftime("%Y%m%d")


def current_archive(conn: psycopg.Connection, cfg: MigrationConfig) -> dict[str, Any] | None:
    """The newest archive not restored (live or deleted), or None."""
    if not ledger.state_schema_exists(conn, cfg):
        return None
    return fetch_one(
        conn,
        sql.SQL("SELECT * FROM {} WHERE restored_at IS NULL ORDER BY created_at DESC LIMIT 1").format(
            state_table(cfg, "archives")
        ),
    )


# --------------------------------------------------------------------------- archive removal
def check_archive_deletion(
    conn: psycopg.Connection, cfg: MigrationConfig | None = None, *, force: bool = False
) -> dict[str, Any]:
    """What deleting the archive would remove; GateClosed before its retention has passed unless ``force``."""
    cfg = cfg or load_config()
    arch = current_archive(conn, cfg)
    if not arch:
        raise GateClosed("no archive to delete (phase 6 not applied, or rolled back)")
    age_days = float(
        scalar(conn, "SELECT extract(epoch FROM clock_timestamp() - %s) / 86400", (arch["created_at"],))
    )
    due = arch["created_at"] + timedelta(days=arch["retention_days"])
    if arch["deleted_at"] is None and age_days < arch["retention_days"] and not force:
        raise GateClosed(
            f"archive {arch['name']} is {age_days:.1f} days old; its retention is {arch['retention_days']} "
            f"days: it may be deleted from {due:%Y-%m-%d %H:%M} UTC on (or with force)"
        )
    facts = {
        "archive": f"{cfg.state_schema}.{arch['name']}",
        "rows": arch["rows"],
        "checksum": arch["checksum"],
        "created_at": arch["created_at"].isoformat(),
        "age_days": round(age_days, 2),
        "retention_days": arch["retention_days"],
        "forced": bool(force and age_days < arch["retention_days"]),
        "already_deleted": arch["deleted_at"] is not None,
    }
    facts["markdown"] = "\n\n".join(
        [
            f"### Delete the archive `{facts['archive']}` for good",
            f"**Rows**: {arch['rows']} &nbsp; **checksum**: `{arch['checksum']}`",
            f"**Archived** {arch['created_at']:%Y-%m-%d %H:%M} UTC, {age_days:.1f} days ago; retention "
            f"{arch['retention_days']} days"
            + (" — **FORCED before the retention**" if facts["forced"] else ""),
            "**After this, rolling back to before phase 6 is impossible**: the legacy rows exist only in "
            "events "
            "(and in database backups).",
        ]
    )
    return facts


def archive_config(cfg: MigrationConfig, archive: str) -> MigrationConfig:
    """The config with the archive as the source table: the parity machinery compares it with events."""
    return dataclasses.replace(
        cfg, source=dataclasses.replace(cfg.source, schema=cfg.state_schema, table=archive)
    )


def archive_parity(dsn: str, cfg: MigrationConfig, archive: str) -> dict[str, Any]:
    """Full parity of the archive against events (every row, every mapped field, the counts).

    Returns the failing checks (empty when the archive and events agree).
    """
    from ..validation.parity import Scope, collect, ensure_validation_objects

    acfg = archive_config(cfg, archive)
    with connection(dsn, autocommit=True) as conn:
        ensure_validation_objects(conn, acfg, indexes=False)
        result = collect(
            conn, acfg, Scope(name="full", reason="archive deletion: the archive against events")
        )
    failing = [f for f in result.findings if f["checked"] and f["failures"]]
    return {
        "failing": [
            {
                "check": f["check_name"],
                "field": f["field"],
                "failures": f["failures"],
                "examples": f["examples"][:5],
            }
            for f in failing
        ],
        "totals": result.statistics.get("totals"),
        "seconds": result.statistics.get("collect_seconds"),
    }


def archive_checksum(conn: psycopg.Connection, cfg: MigrationConfig, arch: dict[str, Any]) -> dict[str, Any]:
    """The archive's checksum and row count now (to hold against those phase 6 recorded)."""
    return fetch_row(
        conn, load_sql("p6_cleanup/02_checksum_archive.sql", archive=state_table(cfg, arch["name"]))
    )


def verify_archive(dsn: str, cfg: MigrationConfig, arch: dict[str, Any]) -> dict[str, Any]:
    """Before an archive is dropped for good: its checksum still holds, and every archived row is
    in events exactly as it was (or quarantined); GateClosed naming what differs otherwise."""
    with connection(dsn) as conn:
        now = archive_checksum(conn, cfg, arch)
    if arch["checksum"] and now["checksum"] != arch["checksum"]:
        raise GateClosed(
            f"archive {arch['name']} changed since phase 6 recorded it: checksum {now['checksum']} "
            f"({now['rows']} rows) != {arch['checksum']} ({arch['rows']} rows); refusing to delete it"
        )
    parity = archive_parity(dsn, cfg, arch["name"])
    if parity["failing"]:
        shown = "; ".join(
            f"{f['check']}{'.' + f['field'] if f['field'] else ''}: {f['failures']} "
            f"(e.g. {', '.join(map(str, f['examples'][:3]))})"
            for f in parity["failing"]
        )
        raise GateClosed(
            f"archive {arch['name']} and events differ, so some legacy rows exist only in the archive: "
            f"{shown}. Refusing to delete it; fix events (or roll phase 6 back) first"
        )
    return {"checksum_now": now["checksum"], "rows_now": now["rows"], "parity": parity}


def delete_archive(
    dsn: str,
    cfg: MigrationConfig | None = None,
    ctx: RunContext | None = None,
    *,
    force: bool = False,
    by: str | None = None,
) -> dict[str, Any]:
    """Remove the archive for good (after its retention, unless ``force``). Makes phase 6 irreversible.

    Checked in the same run, just before: the archive's checksum is unchanged and a full parity
    of the archive against events finds no difference (:func:`verify_archive`).
    """
    cfg = cfg or load_config()
    with ledger.step(dsn, PHASE, "delete_archive", ctx, cfg) as out:
        with connection(dsn) as conn:
            facts = check_archive_deletion(conn, cfg, force=force)
            arch = current_archive(conn, cfg)
        if arch is None:  # check_archive_deletion found it a moment ago
            raise GateClosed("no archive to delete (phase 6 not applied, or rolled back)")
        if facts["already_deleted"]:
            out.update({"archive": arch["name"], "skipped": f"already deleted at {arch['deleted_at']}"})
            return out
        out["verified"] = verify_archive(dsn, cfg, arch)
        who = by or (ctx.actor if ctx else None) or (ctx.dag_run_id if ctx else None) or "unknown"

        def body(conn: psycopg.Connection) -> None:
            # The parity views read the archive (verify_archive): the next validation run recreates them.
            conn.execute(
                sql.SQL("DROP VIEW IF EXISTS {} CASCADE").format(
                    sql.SQL(", ").join(state_table(cfg, v) for v in VALIDATION_VIEWS)
                )
            )
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(state_table(cfg, arch["name"])))
            conn.execute(
                sql.SQL(
                    "UPDATE {} SET deleted_at = clock_timestamp(), deleted_by = %s WHERE name = %s"
                ).format(state_table(cfg, "archives")),
                (who, arch["name"]),
            )

        run_locked(dsn, cfg, body)
        facts.pop("markdown", None)
        out.update(facts)
        out["consequence"] = "rollback to before p6_cleanup is no longer possible"
    return out
