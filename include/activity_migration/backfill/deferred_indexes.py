"""Indexes of ``events`` the read path does not need, dropped before the copy and built after it.

The copy pays for every secondary index row by row; the full-text GIN index costs as much as
all the others together (benchmarks/index_cost_during_copy.py, docs/phase-4-backfill.md). No
read path needs it before the history is complete: the feed (``event_feed``) and the read
parity gate use the actor/customer btrees and the BRIN, which stay. So, when
``defer_search_index`` is on, phase 4:

1. records the index's definition (``pg_get_indexdef``) in the setting
   ``backfill_deferred_indexes`` **before** dropping it (a kill after the drop keeps the
   definition), then ``DROP INDEX CONCURRENTLY`` (no lock that blocks reads or writes);
2. copies;
3. as its last step (after the zero-loss check), ``CREATE INDEX CONCURRENTLY`` from the
   recorded definition; an INVALID leftover of a failed build is dropped and built again;
   the setting is cleared once the index is valid. A rollback of phase 4 builds it too.

While the copy runs, a full-text search over events returns the same rows, found by a
sequential scan instead of the index (slower, not different).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

import psycopg
from psycopg import sql

from .. import ledger
from ..config import MigrationConfig
from ..db import connection, fetch_one, load_sql, run_locked, scalar

log = logging.getLogger(__name__)

SETTING = "backfill_deferred_indexes"
SEARCH_INDEX = "events_search_idx"
CONCURRENT_LOCK_TIMEOUT_MS = 30_000  # CONCURRENTLY waits for older transactions (as phase 1 builds)


def _definition(conn: psycopg.Connection, cfg: MigrationConfig, name: str) -> tuple[str | None, bool]:
    """(pg_get_indexdef, indisvalid) of an index in the target schema; (None, False) when missing."""
    row = fetch_one(
        conn,
        load_sql("p4_backfill/24_select_index_definition.sql"),
        {"index": sql.Identifier(cfg.target_schema, name).as_string(conn)},
    )
    return (row["definition"], bool(row["valid"])) if row else (None, False)


def deferred(conn: psycopg.Connection, cfg: MigrationConfig) -> dict[str, str]:
    value = ledger.get_setting(conn, SETTING, {}, cfg=cfg)
    return dict(value) if isinstance(value, dict) else {}


def defer(dsn: str, cfg: MigrationConfig, names: tuple[str, ...] = (SEARCH_INDEX,)) -> dict[str, str]:
    """Record each index's definition, then drop it CONCURRENTLY; returns every deferred index."""
    with connection(dsn, autocommit=True) as conn:
        recorded = deferred(conn, cfg)
        for name in names:
            definition, valid = _definition(conn, cfg, name)
            if definition is None or name in recorded:
                continue  # already deferred (a resumed run), or never built
            if not valid:
                log.warning("index %s is INVALID (a failed build): dropped, built after the copy", name)
            recorded[name] = definition
            with conn.transaction():
                ledger.set_setting(conn, SETTING, recorded, by="p4_backfill defer", cfg=cfg)
    for name in recorded:
        run_locked(
            dsn,
            _drop(cfg, name),
            lock_timeout_ms=CONCURRENT_LOCK_TIMEOUT_MS,
            attempts=cfg.safety.ddl_attempts,
            autocommit=True,
            what=f"dropping index {name} for the copy",
        )
    if recorded:
        log.info("deferred until after the copy (dropped CONCURRENTLY): %s", sorted(recorded))
    return recorded


def _drop(cfg: MigrationConfig, name: str) -> Callable[[psycopg.Connection], None]:
    """A run_locked body: drop the index CONCURRENTLY (autocommit), if it exists."""

    def body(conn: psycopg.Connection) -> None:
        conn.execute(
            sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.Identifier(cfg.target_schema, name))
        )

    return body


def _concurrent(definition: str) -> str:
    """``CREATE INDEX name ON …`` as catalog prints it -> ``CREATE INDEX CONCURRENTLY IF NOT EXISTS …``."""
    head = "CREATE INDEX "
    if not definition.startswith(head):
        raise ValueError(f"not a plain CREATE INDEX definition: {definition[:80]!r}")
    return "CREATE INDEX CONCURRENTLY IF NOT EXISTS " + definition[len(head) :]


def build(dsn: str, cfg: MigrationConfig) -> dict[str, Any]:
    """Build every deferred index CONCURRENTLY (an INVALID leftover is dropped first); clear the setting."""
    with connection(dsn, autocommit=True) as conn:
        recorded = deferred(conn, cfg)
    built: dict[str, Any] = {}
    t0 = time.monotonic()
    for name, definition in sorted(recorded.items()):

        def body(conn: psycopg.Connection, n: str = name, d: str = definition) -> None:
            current, valid = _definition(conn, cfg, n)
            if current is not None and not valid:
                _drop(cfg, n)(conn)
            conn.execute(_concurrent(d).encode())

        run_locked(
            dsn,
            body,
            lock_timeout_ms=CONCURRENT_LOCK_TIMEOUT_MS,
            attempts=cfg.safety.ddl_attempts,
            autocommit=True,
            what=f"building index {name} after the copy",
        )
        with connection(dsn, autocommit=True) as conn:
            _, valid = _definition(conn, cfg, name)
            if not valid:
                raise RuntimeError(f"index {name} is not valid after its concurrent build; re-run to rebuild")
            built[name] = scalar(
                conn,
                "SELECT pg_relation_size(to_regclass(%s))",
                (sql.Identifier(cfg.target_schema, name).as_string(conn),),
            )
            remaining = {k: v for k, v in deferred(conn, cfg).items() if k != name}
            with conn.transaction():
                ledger.set_setting(conn, SETTING, remaining, by="p4_backfill build_indexes", cfg=cfg)
    if built:
        log.info("built after the copy (CONCURRENTLY): %s", built)
    return {"built": sorted(built), "bytes": built, "seconds": round(time.monotonic() - t0, 2)}
