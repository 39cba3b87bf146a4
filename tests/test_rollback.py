"""Forward through every phase, then migration_rollback to before phase 1, with the app writing.

The application schemas' catalog must equal the start, no activity_logs row may be lost
(rows before the run all still there; every logged write of the workload has its row), and
the workload must see no failed transaction.
"""

from __future__ import annotations

import time

import psycopg
import pytest

from _forward import CFG, CTX, p1, p2, p4, p5_all
from activity_migration import ledger, rollback
from activity_migration.errors import ConfigError, GateClosed
from activity_migration.phases import p3_read_path as p3
from activity_migration.phases import p6_cleanup as p6
from catalog_snapshot import diff, snapshot
from workload_helper import Background


def _logs(dsn: str) -> tuple[int, set[str]]:
    with psycopg.connect(dsn) as conn:
        ids = {r[0] for r in conn.execute("SELECT id::text FROM public.activity_logs")}
    return len(ids), ids


def _orphans(dsn: str) -> list:
    """Events (kept by the phase-1 rollback in its archive) whose legacy row does not exist."""
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT e.event_type, e.source, e.created_at, e.legacy_activity_log_id::text FROM "
            "activity_migration.events_rollback_archive e WHERE e.legacy_activity_log_id IS NULL OR NOT "
            "EXISTS "
            "(SELECT 1 FROM public.activity_logs a WHERE a.id = e.legacy_activity_log_id) LIMIT 10"
        ).fetchall()


def test_forward_all_phases_then_rollback_to_before_p1_restores_catalog_and_loses_nothing(demo_db):
    before = snapshot(demo_db)
    n0, ids0 = _logs(demo_db)
    bg = Background(demo_db, rate=60)
    try:
        time.sleep(1)
        p1(demo_db)
        p2(demo_db)
        p3.apply(demo_db, CFG, CTX)
        p4(demo_db)
        report = p3.require_read_parity(demo_db, CFG, ctx=CTX)
        p3.set_read_source(demo_db, "events", CFG, CTX, parity_report=report)
        p5_all(demo_db)
        p6.backup(demo_db, CFG, CTX)
        p6.archive(demo_db, CFG, CTX)
        p6.checksum(demo_db, CFG, CTX)
        p6.drop_legacy_functions(demo_db, CFG, CTX)
        p6.verify(demo_db, CFG)
        time.sleep(2)  # post-cleanup writes: events only, no legacy id
        with psycopg.connect(demo_db) as conn:
            assert (
                conn.execute(
                    "SELECT relkind::text FROM pg_class WHERE oid = 'public.activity_logs'::regclass"
                ).fetchone()[0]
                == "v"
            )
            born_after = conn.execute(
                "SELECT count(*) FROM public.events WHERE legacy_activity_log_id IS NULL"
            ).fetchone()[0]
        plan = rollback.make_plan(demo_db, "before_p1", CFG, CTX)
        assert plan.to_undo == [
            "p6_cleanup",
            "p5_trigger_removal",
            "p4_backfill",
            "p3_read_path",
            "p2_dual_write",
            "p1_infrastructure",
        ], plan.markdown()
        done = rollback.execute(demo_db, plan, CFG, CTX)
        print(
            {
                k: (v if not isinstance(v, dict) else {kk: str(vv)[:200] for kk, vv in v.items()})
                for k, v in done.items()
            }
        )
        time.sleep(1)
    finally:
        wl = bg.stop()
    assert wl.transactions_failed == 0, wl.summary()
    assert done["p6_cleanup"]["events_copied_back"] >= born_after > 0
    assert diff(before, snapshot(demo_db)) == {}
    n1, ids1 = _logs(demo_db)
    assert ids0 <= ids1, f"{len(ids0 - ids1)} pre-existing activity_logs rows lost"
    logged = wl.total_dml - sum(wl.unpublished.values())
    assert n1 - n0 == logged, (n1 - n0, logged, wl.summary(), _orphans(demo_db))
    with psycopg.connect(demo_db) as conn:
        for phase in (
            "p6_cleanup",
            "p5_trigger_removal",
            "p4_backfill",
            "p3_read_path",
            "p2_dual_write",
            "p1_infrastructure",
        ):
            row = ledger.last_step(conn, phase, "rollback", cfg=CFG)
            assert row and row["status"] == "succeeded", phase
        again = rollback.plan(conn, "before_p1", CFG)
    assert [p for p in again.to_undo if p != "p4_backfill"] == []


def test_plan_lists_only_applied_phases_and_refuses_after_archive_deletion(demo_db):
    p1(demo_db)
    plan = rollback.make_plan(demo_db, "before_p1", CFG, CTX)
    assert plan.to_undo == ["p1_infrastructure"]
    assert "p1_infrastructure" in plan.markdown() and "Not applied" in plan.markdown()
    with pytest.raises(ConfigError, match="to_phase must be one of"):
        rollback.make_plan(demo_db, "before_p9", CFG, CTX)
    p2(demo_db)
    p4(demo_db)  # the archive may be deleted only when every row of it is in events
    p5_all(demo_db)
    p6.backup(demo_db, CFG, CTX)
    p6.archive(demo_db, CFG, CTX, retention_days=0)
    p6.checksum(demo_db, CFG, CTX)
    assert rollback.make_plan(demo_db, "before_p6", CFG, CTX).to_undo == ["p6_cleanup"]
    p6.delete_archive(demo_db, CFG, CTX, by="pytest")
    with pytest.raises(GateClosed, match="phase 6 cannot be undone: its archive .* was deleted"):
        rollback.make_plan(demo_db, "before_p5", CFG, CTX)
    with pytest.raises(GateClosed, match="archive .* was deleted"):
        p6.rollback(demo_db, CFG, CTX)
    with psycopg.connect(demo_db) as conn:
        row = ledger.last_step(conn, "rollback", "plan", cfg=CFG)
    assert row["status"] == "failed" and "deleted" in row["details"]["refused"]
