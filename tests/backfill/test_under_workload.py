"""The backfill under the application's workload, with dual write on (phases 1 and 2 applied):
no app transaction fails, and rows written after the cutoff are never copied by the backfill."""

from __future__ import annotations

import threading
import time

import psycopg

from activity_migration.backfill.options import BackfillParams
from activity_migration.config import load_config
from activity_migration.demo.workload import run_workload
from activity_migration.ledger import RunContext
from activity_migration.phases import p1_infrastructure, p2_dual_write, p4_backfill


def test_backfill_during_workload_with_dual_write(demo_db):
    cfg = load_config()
    ctx = RunContext(environment="staging", mode="demo", actor="pytest")
    p1_infrastructure.apply(demo_db, cfg, ctx)
    p2_dual_write.apply(demo_db, cfg, ctx)
    result = {}
    load = threading.Thread(
        target=lambda: result.update(r=run_workload(demo_db, seconds=6, rate=40, connections=4))
    )
    load.start()
    time.sleep(1.0)
    params = BackfillParams.from_mapping(
        {"initial_chunk_rows": 200, "chunk_target_seconds": 0.2, "lease_seconds": 2}
    )
    out = p4_backfill.apply(demo_db, cfg, ctx, params, workers=2)
    load.join(60)
    report = result["r"]
    assert report.transactions_ok > 50 and report.transactions_failed == 0, report.errors[:5]
    check = p4_backfill.check_zero_loss(demo_db, cfg, ctx)
    assert check["missing"] == 0 and check["duplicated"] == 0 and out["check"]["missing"] == 0
    with psycopg.connect(demo_db) as conn:
        cutoff = conn.execute(
            "SELECT (value->>'cutoff_at')::timestamptz FROM activity_migration.settings WHERE key = 'cutoff'"
        ).fetchone()[0]
        after, after_with_one_event, backfilled_after = conn.execute(
            """
            SELECT count(*),
                   count(*) FILTER (WHERE (SELECT count(*) FROM public.events e
                                            WHERE e.legacy_activity_log_id = s.id) = 1),
                   count(*) FILTER (WHERE EXISTS (SELECT 1 FROM public.events e WHERE e.legacy_activity_log_id
                       = s.id
                                                    AND e.source = 'backfill'))
              FROM public.activity_logs s WHERE s.created_at >= %s""",
            (cutoff,),
        ).fetchone()
    assert after > 0, "the workload wrote no legacy rows after the cutoff"
    assert after_with_one_event == after  # each app write after the cutoff: exactly one event
    assert backfilled_after == 0  # ... written by the dual write, never by the backfill
