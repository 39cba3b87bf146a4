"""The outcome report's core on a real Postgres with the seeded demo app: the baseline capture, the
activity queries old vs new, the report's figures (docs/outcome-report.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import psycopg
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "phases"))

from _forward import CFG, CTX, p1, p2, p4, p5_all  # noqa: E402
from activity_migration.outcome import baseline, queries, report, samples  # noqa: E402
from activity_migration.phases import p3_read_path as p3  # noqa: E402
from activity_migration.phases import p6_cleanup as p6  # noqa: E402
from activity_migration.privileges import audit  # noqa: E402


def test_baseline_before_phase_1_stores_figures_with_their_method_and_locked_down(demo_db):
    out = baseline.capture(demo_db, CFG, CTX, phase="p1_infrastructure", window_s=0.5, query_runs=2)
    rows = out["rows"]
    write = rows["write_latency"]
    assert write["method"] in ("probe", "pg_stat_statements")
    assert write["figures"]["probe"]["ms"] > 0
    assert set(write["figures"]["probe"]["tiers"]) == {str(t.tier) for t in CFG.tiers}
    if write["method"] == "probe":  # no pg_stat_statements, or too few writes: the reason is kept
        assert write["figures"]["statements"]["not_measured"]
    io = rows["io_per_write"]
    assert io["figures"].get("not_measured") or io["figures"]["wal_bytes"] is not None
    reads = rows["read_queries"]["figures"]["queries"]
    for q in queries.QUERIES:
        assert reads[q.name]["legacy"]["p50_ms"] > 0, reads[q.name]
        assert "does not exist yet" in reads[q.name]["events"]["not_measured"]  # never a zero
    params = rows["parameters"]["figures"]
    assert params["chosen_from"] == "legacy log" and params["user_id"] and params["term"]

    with psycopg.connect(demo_db) as conn:
        acl, rls = conn.execute(
            "SELECT relacl::text, relrowsecurity FROM pg_class "
            "WHERE oid = 'activity_migration.outcome_samples'::regclass"
        ).fetchone()
        assert rls and not any(r in (acl or "") for r in ("anon", "authenticated", "service_role", "=r"))
        assert audit(conn, CFG)["passed"]
        kinds = [r["kind"] for r in samples.load(conn, CFG)]
    assert sorted(kinds) == ["io_per_write", "parameters", "read_queries", "write_latency"]

    again = baseline.capture(demo_db, CFG, CTX, phase="p2_dual_write", window_s=0.2, query_runs=1)
    assert "parameters" not in again["rows"]  # the first choice is reused
    assert again["rows"]["read_queries"]["figures"]["parameters"]["user_id"] == params["user_id"]


def _agree(legacy: list[tuple[str, object]], events: list[tuple[str, object]]) -> None:
    """Same rows in the same time order; rows sharing a timestamp at a page edge may differ (the
    tie-breaker is the row's own id, which differs between the two stores)."""
    assert [t for _, t in legacy] == [t for _, t in events]
    if not legacy:
        return
    edges = {legacy[0][1], legacy[-1][1]}
    assert {i for i, t in legacy if t not in edges} == {i for i, t in events if t not in edges}


def test_old_and_new_queries_return_the_same_activities_on_a_migrated_database(demo_db):
    p1(demo_db)
    p2(demo_db)
    p3.apply(demo_db, CFG, CTX)
    p4(demo_db)
    with psycopg.connect(demo_db) as conn:
        params = queries.choose_parameters(conn, CFG)
        for q in queries.QUERIES:
            legacy = queries.activity_ids(conn, CFG, q.name, "legacy", params)
            events = queries.activity_ids(conn, CFG, q.name, "events", params)
            assert legacy, q.name
            _agree(legacy, events)


def test_report_after_phase_6_compares_promised_and_measured_and_says_why_the_old_form_is_gone(
    demo_db, tmp_path
):
    baseline.capture(demo_db, CFG, CTX, phase="p1_infrastructure", window_s=0.2, query_runs=2)
    p1(demo_db)
    p2(demo_db)
    p3.apply(demo_db, CFG, CTX)
    p4(demo_db)
    baseline.capture(demo_db, CFG, CTX, phase="p5_trigger_removal", window_s=0.2, query_runs=2, tier=1)
    p5_all(demo_db)
    p6.backup(demo_db, CFG, CTX)
    p6.archive(demo_db, CFG, CTX, retention_days=30)
    out = report.write_report(
        demo_db, CFG, out_dir=tmp_path, ctx=CTX, phase="p6_cleanup", point="final", window_s=0.2
    )
    fig = out["figures"]
    assert [s["phase"] for s in fig["samples"]] == ["p1_infrastructure", "p5_trigger_removal", "p6_cleanup"]
    promises = {p["key"]: p for p in fig["promises"]}
    assert len(promises) == 6
    for p in promises.values():  # a figure or a reason, never a silent zero
        measured = p["change_pct"] is not None
        assert measured or p["verdict"].startswith("not measured: ") and len(p["verdict"]) > 16
        if p["reached"] is False:
            assert "NOT reached" in p["verdict"]
    assert promises["activity_queries"]["change_pct"] is not None
    assert promises["write_latency"]["before"] > 0 and promises["write_latency"]["after"] > 0
    for row in fig["queries"]:
        assert row["legacy"]["p50_ms"] > 0 and row["legacy_at"] == "p1"
        assert row["events"]["p50_ms"] > 0 and row["events_at"] == "p6 final"
        assert "phase 6 archived the legacy table" in row["legacy_now"]["not_measured"]
    points = fig["write_series"]["points"]
    assert len(points) == 3 and all(len(p["tiers"]) == len(CFG.tiers) for p in points)
    assert fig["counts"]["events_linked"] > 0 and fig["events_by_source"]["backfill"] > 0
    assert json.loads(Path(out["json"]).read_text())["promises"][0]["key"] == "activity_queries"
    page = Path(out["html"]).read_text()
    for marker in (
        "id='promised'",
        "id='plot-write-latency'",
        "id='plot-read-latency'",
        "class='series'",
        "class='bar legacy'",
        "class='bar events'",
        "id='approvals'",
        "id='durations'",
    ):
        assert marker in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "") and "https://" not in page
    lines = report.promised_lines(fig)
    assert len(lines) == 8 and all(line.count(" | ") == 4 for line in lines[2:])


@pytest.mark.parametrize("name", [q.name for q in queries.QUERIES])
def test_every_query_has_both_forms_as_sql_files(name):
    root = Path(__file__).resolve().parents[2] / "include" / "sql" / "outcome" / "queries"
    for form in queries.FORMS:
        text = (root / f"{name}_{form}.sql").read_text()
        assert text.startswith("-- ") and "activity_id" in text and "sort_at" in text
