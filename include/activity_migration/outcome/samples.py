"""The outcome samples: one state table, created locked down, rows appended by each capture.

Like every state table (docs/security.md) it grants nothing to PUBLIC, ``anon``,
``authenticated`` or ``service_role`` and has row level security on with no policy
(``include/sql/outcome/01_create_outcome_samples.sql``, then the state schema's lock-down).
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from ..config import MigrationConfig
from ..db import fetch_all, load_sql, run_sql_file, scalar
from ..ledger import RunContext, ensure_state_schema, project_version, state_table

SAMPLES_TABLE = "outcome_samples"
KINDS = ("write_latency", "io_per_write", "read_queries", "parameters")


def samples_table(cfg: MigrationConfig) -> sql.Identifier:
    return state_table(cfg, SAMPLES_TABLE)


def samples_table_exists(conn: psycopg.Connection, cfg: MigrationConfig) -> bool:
    ident = samples_table(cfg).as_string(conn)
    return bool(scalar(conn, "SELECT to_regclass(%s) IS NOT NULL", (ident,)))


def ensure_samples_table(conn: psycopg.Connection, cfg: MigrationConfig) -> None:
    """The state schema, then the samples table with its ACL (only when missing: no lock otherwise)."""
    from ..privileges import lock_down_state_schema

    ensure_state_schema(conn, cfg)
    if samples_table_exists(conn, cfg):
        return
    with conn.transaction():
        run_sql_file(conn, "outcome/01_create_outcome_samples.sql", samples=samples_table(cfg))
        lock_down_state_schema(conn, cfg)  # the id sequence too
    _commit(conn)


def _commit(conn: psycopg.Connection) -> None:
    """Commit unless inside the caller's transaction block (then the caller's commit decides)."""
    if not conn.autocommit:
        try:
            conn.commit()
        except psycopg.ProgrammingError:
            pass


def store(
    conn: psycopg.Connection,
    cfg: MigrationConfig,
    rows: list[dict[str, Any]],
    *,
    phase: str,
    point: str,
    ctx: RunContext | None = None,
    tier: int | None = None,
) -> str:
    """Append ``rows`` (``kind``, ``method``, ``figures``) as one sample; returns its sample id."""
    ctx = ctx or RunContext()
    ensure_samples_table(conn, cfg)
    sample_id = str(uuid.uuid4())
    query = load_sql("outcome/02_insert_outcome_sample.sql", samples=samples_table(cfg))
    with conn.transaction():
        for row in rows:
            conn.execute(
                query,
                {
                    "sample_id": sample_id,
                    "phase": phase,
                    "point": point,
                    "tier": tier,
                    "environment": ctx.environment,
                    "kind": row["kind"],
                    "method": row["method"],
                    "figures": Jsonb(row["figures"]),
                    "project_version": project_version(),
                    "dag_run_id": ctx.dag_run_id,
                },
            )
    _commit(conn)
    return sample_id


def load(
    conn: psycopg.Connection, cfg: MigrationConfig, kinds: list[str] | None = None
) -> list[dict[str, Any]]:
    """Every sample row (oldest first), or [] when nothing was captured yet."""
    if not samples_table_exists(conn, cfg):
        return []
    rows = fetch_all(
        conn, load_sql("outcome/03_select_outcome_samples.sql", samples=samples_table(cfg)), {"kinds": kinds}
    )
    if not conn.autocommit:
        conn.commit()
    return rows
