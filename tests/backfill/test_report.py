"""Phase 4's report travels as XCom (JSON): a chunk whose controller measured nothing (the first
chunk holds before any sample) must come out as None, not NaN."""

from __future__ import annotations

import json

import psycopg

from _forward import CFG, p1, p2, p4
from activity_migration.phases import p4_backfill


def test_report_is_json_when_a_chunk_has_no_latency_sample(demo_db):
    p1(demo_db)
    p2(demo_db)
    p4(demo_db)
    with psycopg.connect(demo_db) as conn:
        conn.execute(
            f"UPDATE {CFG.state_schema}.backfill_chunks SET throttle_action = 'hold', app_p95_ms = NULL, "
            "app_latency_ratio = NULL WHERE chunk_id = (SELECT min(chunk_id) FROM "
            f"{CFG.state_schema}.backfill_chunks)"
        )

    report = p4_backfill.report(demo_db, CFG)

    text = json.dumps(report, allow_nan=False)  # raises on NaN / Infinity
    hold = next(r for r in report["controller"] if r["action"] == "hold")
    assert hold["mean_p95_ms"] is None and hold["chunks"] == "1"
    assert json.loads(text)["chunks"][0]["status"] == "done"
