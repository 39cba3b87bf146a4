"""Gates on recorded validation results (phase 5 before each tier, phase 6 before cleanup)."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from ..config import MigrationConfig, load_config
from ..db import fetch_one, load_sql
from ..errors import GateClosed


def require_recent_pass(
    conn: psycopg.Connection,
    suite: str,
    max_age_hours: float,
    environment: str,
    *,
    scope: str | None = "full",
    cfg: MigrationConfig | None = None,
) -> dict[str, Any]:
    """Return the newest result of ``suite`` in ``environment`` if it passed within ``max_age_hours``.

    Only results of ``scope`` count (``full`` by default: an incremental pass does not open a
    cleanup gate; ``None`` accepts any scope).

    :raises GateClosed: no result, the newest result failed, or it is older than ``max_age_hours``
    """
    cfg = cfg or load_config()
    where = [sql.SQL("suite = %s"), sql.SQL("environment = %s")]
    params: list[Any] = [suite, environment]
    if scope:
        where.append(sql.SQL("scope = %s"))
        params.append(scope)
    row = fetch_one(
        conn,
        load_sql(
            "validation/23_read_newest_validation_result.sql",
            results=sql.Identifier(cfg.state_schema, "validation_results"),
            conditions=sql.SQL(" AND ").join(where),
        ),
        params,
    )
    what = f"suite {suite!r}" + (f" ({scope} scope)" if scope else "") + f" in {environment}"
    if row is None:
        raise GateClosed(
            f"validation gate closed: no recorded result of {what}; run the suite first "
            f"(activity-migration validate --suite {suite} --full)"
        )
    age_h = row["age"].total_seconds() / 3600
    if not row["success"]:
        raise GateClosed(
            f"validation gate closed: the newest result of {what} (id {row['id']}, "
            f"{row['run_at']:%Y-%m-%d %H:%M:%S %Z}) FAILED with {len(row['failures'] or [])} failed "
            f"expectation(s); Data Docs: {row['data_docs_path']}"
        )
    if age_h > float(max_age_hours):
        raise GateClosed(
            f"validation gate closed: the newest passing result of {what} (id {row['id']}) is "
            f"{age_h:.1f} h old, older than the allowed {float(max_age_hours):g} h; run the suite again"
        )
    return {
        "result_id": row["id"],
        "suite": suite,
        "scope": row["scope"],
        "success": True,
        "run_at": row["run_at"].isoformat(),
        "age_hours": round(age_h, 3),
        "data_docs_path": row["data_docs_path"],
        "project_version": row["project_version"],
    }


def newest_results(
    conn: psycopg.Connection, environment: str | None = None, cfg: MigrationConfig | None = None
) -> list[dict[str, Any]]:
    """The newest result per suite (and scope), newest first."""
    from ..db import fetch_all

    cfg = cfg or load_config()
    q = load_sql(
        "validation/24_list_newest_validation_results.sql",
        results=sql.Identifier(cfg.state_schema, "validation_results"),
        filter=sql.SQL("WHERE environment = %s" if environment else ""),
    )
    return fetch_all(conn, q, (environment,) if environment else None)
