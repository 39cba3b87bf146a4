"""Validation once phase 6 ran: events against the archive while it exists, then events alone;
and what the incremental scope checks on a small and on a sampled table."""

from __future__ import annotations

from _forward import CFG, CTX, p1, p2, p4, p5_all
from activity_migration.ledger import RunContext
from activity_migration.phases import p6_cleanup as p6
from activity_migration.validation.runner import run_suites
from validation.helpers import execute

ALL = ["events_integrity", "parity", "quarantine"]
STAGING = RunContext(environment="staging", dag_run_id="pytest-after-cleanup")


def test_after_phase_6_events_are_compared_with_the_archive_then_checked_alone(demo_db, tmp_path):
    p1(demo_db)
    p2(demo_db)
    p4(demo_db)
    p5_all(demo_db)
    p6.backup(demo_db, CFG, CTX)
    p6.archive(demo_db, CFG, CTX, retention_days=0)  # public.activity_logs is now a view over events
    p6.checksum(demo_db, CFG, CTX)
    ok = run_suites(demo_db, ALL, "incremental", STAGING, tmp_path)
    assert ok.success, ok.summary_lines()
    assert "archive" in ok.suites["parity"].statistics["compared_with"] and ok.scope == "full"
    assert ok.suites["parity"].statistics["totals"]["source_rows"] > 0

    execute(
        demo_db,
        "UPDATE public.events SET payload = payload || '{\"tampered\": true}' WHERE id = "
        "(SELECT id FROM public.events WHERE legacy_activity_log_id IS NOT NULL ORDER BY id LIMIT 1)",
    )
    bad = run_suites(demo_db, ALL, "incremental", STAGING, tmp_path)
    assert not bad.success and bad.failed_suites == ["parity"]

    execute(demo_db, "UPDATE public.events e SET payload = payload - 'tampered' WHERE payload ? 'tampered'")
    p6.delete_archive(demo_db, CFG, CTX, by="pytest")
    alone = run_suites(demo_db, ALL, "incremental", STAGING, tmp_path)
    assert alone.success and "parity" not in alone.suites
    assert "archive was deleted" in alone.suites["events_integrity"].statistics["compared_with"]


def test_a_small_table_is_checked_whole_and_one_tampered_field_is_found(demo_db, tmp_path):
    p1(demo_db)
    p2(demo_db)
    p4(demo_db)
    first = run_suites(demo_db, ["parity"], "full", STAGING, tmp_path)
    assert first.success, first.summary_lines()
    execute(
        demo_db,
        "UPDATE public.events SET description = 'tampered' WHERE id = (SELECT id FROM public.events "
        "WHERE legacy_activity_log_id IS NOT NULL ORDER BY occurred_at LIMIT 1)",
    )  # an OLD row
    nightly = run_suites(demo_db, ["parity"], "incremental", STAGING, tmp_path)
    assert nightly.scope == "full" and "small table" in nightly.statistics["scope_reason"]
    assert not nightly.success


def test_a_sampled_incremental_run_states_what_it_can_find(demo_db, tmp_path):
    p1(demo_db)
    p2(demo_db)
    p4(demo_db)
    run_suites(demo_db, ["parity"], "full", STAGING, tmp_path)
    inc = run_suites(
        demo_db,
        ["parity"],
        "incremental",
        STAGING,
        tmp_path,
        full_check_below_rows=0,
        sample_ranges=10,
        sample_min_rows=100,
    )
    st = inc.suites["parity"].statistics
    assert inc.scope == "incremental"
    assert 0 < st["sampled_fraction"] < 1 and st["sampled_source_rows"] > 0
    assert "probability" in st["detection"] and "nights" in st["detection"]
