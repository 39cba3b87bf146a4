"""Real time for events: ``events`` in the ``supabase_realtime`` publication when it exists
(created first on the demo database only), and the undoing of exactly what phase 3 did there."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from .. import ledger
from ..config import MigrationConfig
from ..db import connection, load_sql, run_ddl_with_retry, run_sql_file, scalar
from .p3_parity import PHASE

PUBLICATION = "supabase_realtime"
PUBLICATION_SETTING = (
    "p3_publication"  # {"created": bool, "added": bool}: what phase 3 did, so rollback undoes only that
)


def publication_state(conn: psycopg.Connection, cfg: MigrationConfig) -> dict[str, bool]:
    exists = bool(scalar(conn, "SELECT 1 FROM pg_publication WHERE pubname = %s", (PUBLICATION,)))
    member = bool(
        scalar(
            conn,
            load_sql("p3_read_path/12_select_publication_member.sql"),
            (PUBLICATION, cfg.target_schema, cfg.target_table),
        )
    )
    return {"exists": exists, "member": member}


def setup_realtime(dsn: str, cfg: MigrationConfig) -> dict[str, Any]:
    """Create the demo publication if this is the demo database, then add events to it if it exists."""
    with connection(dsn, autocommit=True) as conn:
        before = publication_state(conn, cfg)
        done = ledger.get_setting(conn, PUBLICATION_SETTING, {}, cfg=cfg) or {}
        run_sql_file(conn, "p3_read_path/06_create_demo_publication.sql")
        mid = publication_state(conn, cfg)
    created = bool(done.get("created")) or (mid["exists"] and not before["exists"])
    added = bool(done.get("added"))
    if mid["exists"] and not mid["member"]:
        run_ddl_with_retry(
            dsn,
            [
                sql.SQL("ALTER PUBLICATION {} ADD TABLE {}").format(
                    sql.Identifier(PUBLICATION), sql.Identifier(cfg.target_schema, cfg.target_table)
                )
            ],
            **cfg.safety.ddl_retry,
        )
        added = True
    with connection(dsn) as conn:
        ledger.set_setting(conn, PUBLICATION_SETTING, {"created": created, "added": added}, by=PHASE, cfg=cfg)
        conn.commit()
    if not mid["exists"]:
        note = (
            f"no publication {PUBLICATION}: real time not configured here (Supabase creates it; "
            "the demo creates it)"
        )
    else:
        note = f"{cfg.target} is in publication {PUBLICATION}"
    return {
        "publication_exists": mid["exists"],
        "publication_created_by_p3": created,
        "events_added_by_p3": added,
        "note": note,
    }


def undo_realtime_statements(
    cfg: MigrationConfig, done: dict[str, Any], pub: dict[str, bool]
) -> list[sql.Composable]:
    """What undoes phase 3's part in the publication (``done``, the setting), given its state now."""
    stmts: list[sql.Composable] = []
    if done.get("added") and pub["member"]:
        stmts.append(
            sql.SQL("ALTER PUBLICATION {} DROP TABLE {}").format(
                sql.Identifier(PUBLICATION), sql.Identifier(cfg.target_schema, cfg.target_table)
            )
        )
    if done.get("created") and pub["exists"]:
        stmts.append(sql.SQL("DROP PUBLICATION IF EXISTS {}").format(sql.Identifier(PUBLICATION)))
    return stmts


def forget_realtime_setting(dsn: str, cfg: MigrationConfig) -> None:
    """Delete the setting that records what phase 3 did to the publication."""
    with connection(dsn) as conn:
        conn.execute(
            sql.SQL("DELETE FROM {} WHERE key = %s").format(sql.Identifier(cfg.state_schema, "settings")),
            (PUBLICATION_SETTING,),
        )
        conn.commit()
