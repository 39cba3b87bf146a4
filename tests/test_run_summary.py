"""The demo's last screen: the figures come from the migrated database, not from the script."""

from __future__ import annotations

import psycopg

from _forward import CFG, CTX, p1, p2, p4
from activity_migration import ledger
from activity_migration.run_summary import (
    format_quarantine,
    migration_counts,
    phase_times_table,
    summary_table,
)


def test_counts_before_phase_1_are_empty(demo_db):
    assert migration_counts(demo_db, CFG) == {}


def test_counts_follow_the_backfill_the_quarantine_and_the_approvals(demo_db):
    p1(demo_db)
    p2(demo_db)
    p4(demo_db)
    with psycopg.connect(demo_db) as conn:
        ledger.record(conn, "p2_dual_write", "switch_approval", "skipped", CTX, cfg=CFG)
        ledger.record(
            conn, "p5_trigger_removal", "tier_1_drop_approval", "succeeded", CTX, actor="ana", cfg=CFG
        )
        legacy = conn.execute("SELECT count(*) FROM public.activity_logs").fetchone()[0]
        quarantined = conn.execute(
            f"SELECT reason, count(*) FROM {CFG.state_schema}.quarantine GROUP BY reason"
        ).fetchall()
        copied = conn.execute(f"SELECT sum(rows_copied) FROM {CFG.state_schema}.backfill_chunks").fetchone()[
            0
        ]

    counts = migration_counts(demo_db, CFG)

    assert counts["rows_backfilled"] == copied > 0
    assert counts["quarantined_by_reason"] == dict(quarantined)
    # Every legacy row is an event or in the quarantine (the demo seeds odd rows on purpose).
    assert counts["events_linked"] + sum(dict(quarantined).values()) == legacy
    assert (counts["approvals_given"], counts["approvals_skipped"], counts["approvals_rejected"]) == (1, 1, 0)


def test_the_tables_name_every_figure_per_environment():
    figures = {
        "staging": {
            "rows_backfilled": 1200,
            "events_linked": 1300,
            "events_published": 4,
            "quarantined_by_reason": {"unknown_entity_type": 3, "payload_too_large": 9},
            "tx_ok": 5000,
            "tx_failed": 0,
            "approvals_given": 0,
            "approvals_skipped": 7,
            "phase_seconds": {"phase 1": 30.0, "phase 4": 300.0},
        },
        "production": {"rows_backfilled": 1100, "phase_seconds": {"phase 1": 20.0}},
    }
    text = "\n".join(summary_table(figures))
    assert "| history rows backfilled | 1,200 | 1,100 |" in text
    assert "| quarantined (by reason) | 12 (9 payload_too_large, 3 unknown_entity_type) | 0 |" in text
    assert "| app transactions ok / failed | 5,000 / 0 | 0 / 0 |" in text
    assert "| approvals given / skipped (demo) | 0 / 7 | 0 / 0 |" in text
    assert "| time, all phases | 5.5 min | 20 s |" in text
    times = phase_times_table(figures)
    assert "| phase 4 | 5.0 min | – |" in times
    assert format_quarantine({}) == "0"
