"""The full-text GIN index of events is dropped CONCURRENTLY before the copy and built
CONCURRENTLY after it; a kill between the two keeps its definition; a rollback builds it."""

from __future__ import annotations

import psycopg

from activity_migration.backfill import deferred_indexes
from activity_migration.backfill.options import BackfillParams
from activity_migration.config import load_config
from activity_migration.db import load_sql
from activity_migration.phases import p4_backfill
from activity_migration.sqltext import split_statements

from .conftest import counts

CFG = load_config()
PARAMS = BackfillParams.from_mapping({"allow_without_cutoff": True, "initial_chunk_rows": 500})


def _build_phase1_indexes(dsn: str) -> None:
    from psycopg import sql

    with psycopg.connect(dsn, autocommit=True) as conn:
        text = load_sql(
            "p1_infrastructure/07_create_event_indexes.sql",
            events=sql.Identifier(CFG.target_schema, CFG.target_table),
        ).as_string(conn)
        for stmt in split_statements(text):
            conn.execute(stmt.encode())


def _index(dsn: str):
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass('public.events_search_idx')"
        ).fetchone()


def _deferred(dsn: str) -> dict:
    with psycopg.connect(dsn) as conn:
        return deferred_indexes.deferred(conn, CFG)


def test_search_index_is_built_after_the_copy(backfill_db):
    _build_phase1_indexes(backfill_db)
    p4_backfill.plan(backfill_db, CFG, PARAMS)
    assert _index(backfill_db) is None  # the copy does not maintain it
    assert "events_search_idx" in _deferred(backfill_db)
    # a kill here loses nothing: a second plan (a resumed run) keeps the recorded definition
    p4_backfill.plan(backfill_db, CFG, PARAMS)
    out = p4_backfill.apply(backfill_db, CFG, None, PARAMS, workers=2)
    assert out["check"]["missing"] == 0 and counts(backfill_db)["missing"] == 0
    assert out["indexes"]["built"] == ["events_search_idx"]
    assert _index(backfill_db) == (True,) and _deferred(backfill_db) == {}
    with psycopg.connect(backfill_db) as conn:
        conn.execute("SET enable_seqscan = off")
        plan = " ".join(
            r[0]
            for r in conn.execute(
                "EXPLAIN SELECT * FROM public.events WHERE (to_tsvector('simple'::regconfig, "
                "coalesce(description, '')) || jsonb_to_tsvector('simple'::regconfig, payload, "
                "'[\"string\"]'::jsonb)) @@ plainto_tsquery('simple'::regconfig, 'row')"
            )
        )
    assert "events_search_idx" in plan  # the same definition as phase 1's


def test_rollback_builds_a_deferred_index_and_keep_leaves_it(backfill_db):
    _build_phase1_indexes(backfill_db)
    p4_backfill.plan(backfill_db, CFG, PARAMS)
    assert _index(backfill_db) is None
    p4_backfill.rollback(backfill_db, CFG)
    assert _index(backfill_db) == (True,) and _deferred(backfill_db) == {}
    keep = BackfillParams.from_mapping(
        {"allow_without_cutoff": True, "initial_chunk_rows": 500, "defer_search_index": False}
    )
    p4_backfill.plan(backfill_db, CFG, keep)
    assert _index(backfill_db) == (True,)
