"""Chunk planning: key ranges cover every key, plans are reused, dry run writes nothing."""

from __future__ import annotations

import uuid

import psycopg

from activity_migration.backfill import planner
from activity_migration.config import load_config

from .conftest import make_backfill_db


def test_uuid_boundaries_split_the_space_evenly():
    bounds = planner.uuid_boundaries(4)
    assert bounds == [
        "40000000-0000-0000-0000-000000000000",
        "80000000-0000-0000-0000-000000000000",
        "c0000000-0000-0000-0000-000000000000",
    ]
    assert all(uuid.UUID(b) for b in planner.uuid_boundaries(97))
    assert planner.uuid_boundaries(1) == []


def test_integer_boundaries():
    assert planner.integer_boundaries(1, 100, 4) == ["26", "51", "76"]
    assert planner.integer_boundaries(5, 5, 3) == []


def _chunks(dsn):
    with psycopg.connect(dsn) as conn:
        return planner.existing_chunks(conn, load_config())


def test_plan_is_written_once_then_reused_and_dry_run_writes_nothing(fresh_db):
    dsn = make_backfill_db(fresh_db, 5000, "bigint")
    cfg = load_config()
    with psycopg.connect(dsn, autocommit=True) as conn:
        dry = planner.plan(conn, cfg, target_rows=1000, dry_run=True)
        assert not dry.written and len(dry.chunks) == 5 and dry.rows_in_scope == 5000
        assert _chunks(dsn) == []  # dry run: not even the plan
        first = planner.plan(conn, cfg, target_rows=1000)
        assert first.written and first.key_type == "bigint"
        rows = _chunks(dsn)
        assert rows[0]["lo"] is None and rows[-1]["hi"] is None  # open ends cover every key
        assert [r["hi"] for r in rows[:-1]] == [r["lo"] for r in rows[1:]]  # contiguous, no gaps
        conn.execute(
            "UPDATE activity_migration.backfill_chunks SET attempts = 1, status = 'failed' "
            "WHERE chunk_id = %s",
            (rows[0]["chunk_id"],),
        )
        again = planner.plan(conn, cfg, target_rows=500)  # a chunk started: reuse
        assert again.reused and len(again.chunks) == len(rows)
        assert {r["status"] for r in _chunks(dsn)} == {"pending"}  # failed chunk back to pending
        replanned = planner.plan(conn, cfg, target_rows=500, replan=True)
        assert not replanned.reused and len(_chunks(dsn)) == 10
