"""What rehearsal-copy reads from the catalogs: the schemas to copy, whether the target is
empty, the tables and their foreign keys, and a fingerprint of the code objects."""

from __future__ import annotations

import hashlib
from typing import Any

import psycopg

from .config import MigrationConfig
from .db import fetch_all, load_sql

# The foreign keys of the tables in some schemas (one positional parameter: their names).
FOREIGN_KEYS_SQL = load_sql("rehearsal/12_select_foreign_keys.sql")


def application_schemas(conn: psycopg.Connection, cfg: MigrationConfig) -> list[str]:
    """Every schema but the system ones, the temporary ones and the state schema."""
    rows = fetch_all(
        conn, load_sql("rehearsal/07_select_application_schemas.sql"), {"state_schema": cfg.state_schema}
    )
    return [r["nspname"] for r in rows]


def target_contents(conn: psycopg.Connection) -> list[str]:
    """What makes a database non-empty: user schemas besides public, relations, functions."""
    rows = fetch_all(conn, load_sql("rehearsal/08_select_target_contents.sql"))
    return [r["what"] for r in rows]


def copyable_tables(conn: psycopg.Connection, schemas: list[str]) -> list[dict[str, Any]]:
    """The tables of ``schemas`` whose rows are copied, with their stored columns."""
    return fetch_all(conn, load_sql("rehearsal/11_select_copyable_tables.sql"), {"schemas": schemas})


def foreign_keys(conn: psycopg.Connection, schemas: list[str]) -> list[dict[str, Any]]:
    """The foreign keys of the tables of ``schemas``: child, parent and their columns."""
    return fetch_all(conn, FOREIGN_KEYS_SQL, (schemas,))


def fingerprint(conn: psycopg.Connection, schemas: list[str]) -> str:
    """A digest of the triggers, functions and policies of ``schemas`` (for quick comparisons)."""
    rows = fetch_all(
        conn, load_sql("rehearsal/15_select_definitions_to_fingerprint.sql"), {"schemas": schemas}
    )
    return hashlib.sha256("\n".join(f"{r['k']}:{r['d']}" for r in rows).encode()).hexdigest()
