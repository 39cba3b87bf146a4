"""Benchmark: the full parity suite vs one hand-written full-outer-join query; nightly incremental vs full.

Side by side in one run, on a throwaway database (default 2,000,000 rows, uuid keys):

1. seed ``activity_logs`` set-based, copy it into ``events`` with one INSERT ... SELECT of the
   shared mapping rules (tests/validation/helpers.py), VACUUM ANALYZE;
2. warm up (GX import, helper views, the created_at indexes);
3. time the hand-written query twice: (a) the row-level FULL OUTER JOIN comparison only
   (missing / orphans / per-field mismatches), (b) the same plus per entity type / per day
   counts (what the parity suite also checks);
4. time the full parity suite (``run_suites(["parity"], scope="full")``, GX + Data Docs included);
5. add 1 % new rows, copy them, time the nightly incremental parity run (not recorded, so it
   can repeat), alternating with full runs.

Ratios are what matter (the machine is shared and noisy): suite / query (goal <= 1.2) and
incremental / full (goal <= 0.1).

    .venv/bin/python benchmarks/parity_suite_vs_sql.py [--rows 2000000] [--keep]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from activity_migration.ledger import RunContext  # noqa: E402
from activity_migration.validation.runner import run_suites  # noqa: E402
from validation.helpers import create_source, insert_source_rows, migrate, setup_state  # noqa: E402

ROW_LEVEL = """
SELECT count(*) FILTER (WHERE e.legacy_activity_log_id IS NULL
                          AND NOT EXISTS (SELECT 1 FROM activity_migration.quarantine q
                                          WHERE q.legacy_id = s.id::text AND q.resolved_at IS NULL)) AS
                                              missing,
       count(*) FILTER (WHERE s.id IS NULL) AS orphans,
       count(*) FILTER (WHERE s.id IS NOT NULL AND e.legacy_activity_log_id IS NOT NULL AND (
             e.actor_id IS DISTINCT FROM s.user_id OR e.customer_id IS DISTINCT FROM s.customer_id
          OR e.event_type IS DISTINCT FROM activity_migration.event_type_for(s.entity_type, s.action)
          OR e.entity_type IS DISTINCT FROM s.entity_type OR e.entity_id IS DISTINCT FROM s.entity_id
          OR e.description IS DISTINCT FROM s.description OR e.payload IS DISTINCT FROM coalesce(s.metadata,
              '{}'::jsonb)
          OR e.ip_address IS DISTINCT FROM s.ip_address OR e.user_agent IS DISTINCT FROM s.user_agent
          OR e.occurred_at IS DISTINCT FROM s.created_at)) AS mismatched
FROM public.activity_logs s
FULL JOIN (SELECT * FROM public.events WHERE legacy_activity_log_id IS NOT NULL) e ON e.legacy_activity_log_id
    = s.id
"""

WITH_COUNTS = (
    """
WITH rows AS ("""
    + ROW_LEVEL
    + """),
src AS (SELECT coalesce(entity_type, '') et, (created_at AT TIME ZONE 'UTC')::date d, count(*) n
        FROM public.activity_logs GROUP BY 1, 2),
evt AS (SELECT coalesce(entity_type, '') et, (occurred_at AT TIME ZONE 'UTC')::date d, count(*) n
        FROM public.events WHERE legacy_activity_log_id IS NOT NULL GROUP BY 1, 2),
cnt AS (SELECT coalesce(a.et, e.et) et, coalesce(a.d, e.d) d, coalesce(a.n, 0) sn, coalesce(e.n, 0) en
        FROM src a FULL JOIN evt e ON e.et = a.et AND e.d = a.d)
SELECT rows.*, (SELECT count(*) FROM cnt WHERE sn <> en) AS groups_differing FROM rows
"""
)


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--admin-dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sample-ranges", type=int, default=30)
    ap.add_argument(
        "--sample-ratio", type=float, default=None, help="sample budget / new rows (default: the runner's)"
    )
    ap.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = ap.parse_args()

    name = f"am_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.admin_dsn, autocommit=True) as c:
        c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = psycopg.conninfo.make_conninfo(args.admin_dsn, dbname=name)
    docs = Path(tempfile.mkdtemp(prefix="am_bench_docs_"))
    ctx = RunContext(environment="staging")
    try:
        t = time.perf_counter()
        create_source(dsn, rows=args.rows, days=365)
        setup_state(dsn)
        migrate(dsn, backdate=True)  # history copied long ago: only new rows are "new" to the nightly
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute("VACUUM ANALYZE public.activity_logs")
            c.execute("VACUUM ANALYZE public.events")
        print(f"setup: {args.rows:,} rows seeded and copied in {time.perf_counter() - t:.1f} s")

        t = time.perf_counter()
        warm = run_suites(dsn, ["parity"], "full", ctx, docs)
        assert warm.success, warm.summary_lines()
        print(f"warm-up full parity run (GX import, views, indexes): {time.perf_counter() - t:.1f} s")

        # side by side: each repetition runs the two queries and the suite back to back
        q_rows, q_counts, full_runs, details = [], [], [], []

        def full(record: bool = True):
            o = run_suites(dsn, ["parity"], "full", ctx, docs, record=record)
            assert o.success
            details.append(o.suites["parity"].statistics)

        with psycopg.connect(dsn, autocommit=True) as c:
            for _ in range(args.repeat):
                q_rows += timed(lambda: c.execute(ROW_LEVEL).fetchall(), 1)
                q_counts += timed(lambda: c.execute(WITH_COUNTS).fetchall(), 1)
                full_runs += timed(full, 1)  # the last one is the nightly's watermark

        with psycopg.connect(dsn, autocommit=True) as c:
            insert_source_rows(c, args.rows // 100, days=0.01, newest_age="0 seconds")
        migrate(dsn, "s.created_at > now() - interval '1 hour'")
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute("ANALYZE public.activity_logs")
            c.execute("ANALYZE public.events")
        # incremental runs are not recorded (record=False), so each one sees the same new rows;
        # a full run (not recorded either) alternates with each
        inc_runs, full_after, incs = [], [], []

        def incremental():
            extra = {} if args.sample_ratio is None else {"sample_ratio": args.sample_ratio}
            o = run_suites(
                dsn,
                ["parity"],
                "incremental",
                ctx,
                docs,
                sample_ranges=args.sample_ranges,
                record=False,
                **extra,
            )
            assert o.success and o.scope == "incremental", o.summary_lines()
            incs.append(o.suites["parity"].statistics)

        for _ in range(args.repeat):
            inc_runs += timed(incremental, 1)
            full_after += timed(lambda: full(record=False), 1)
        inc_s = statistics.median(inc_runs)
        ist = incs[-1]

        med = statistics.median
        print(
            "\n=== parity suite vs hand-written SQL (median of %d; shared, noisy 2-core machine) ==="
            % args.repeat
        )
        print(
            f"hand-written FULL OUTER JOIN, row-level only        : {med(q_rows):7.2f} s  "
            f"{['%.2f' % x for x in q_rows]}"
        )
        print(
            f"hand-written FULL OUTER JOIN + entity/day counts     : {med(q_counts):7.2f} s  "
            f"{['%.2f' % x for x in q_counts]}"
        )
        print(
            f"full parity suite (collect + GX + Data Docs)         : {med(full_runs):7.2f} s  "
            f"{['%.2f' % x for x in full_runs]}"
        )
        print(
            f"   of which Postgres collect {med(d['collect_seconds'] for d in details):.2f} s "
            f"(diff {med(d['diff_seconds'] for d in details):.2f} s, counts "
            f"{med(d['count_seconds'] for d in details):.2f} s), "
            f"GX {med(d['gx_seconds'] for d in details):.2f} s"
        )
        print(
            f"ratio suite / row-level query                        : {med(full_runs) / med(q_rows):7.2f}x  "
            "(goal <= 1.2)"
        )
        print(
            f"ratio suite / query with the same counts             : {med(full_runs) / med(q_counts):7.2f}x  "
            "(goal <= 1.2)"
        )
        print(
            f"nightly incremental after +1 % rows                  : {inc_s:7.2f} s  "
            f"{['%.2f' % x for x in inc_runs]} "
            f"(checked {ist['source_rows_checked']:,} source rows, {ist['sampled_source_rows']:,} of them "
            "sampled "
            f"(budget {ist['sample_budget']:,}); collect {med(d['collect_seconds'] for d in incs):.2f} s "
            f"(row-level {med(d['diff_seconds'] for d in incs):.2f} s; the whole-table counts run beside "
            f"it), GX {med(d['gx_seconds'] for d in incs):.2f} s)"
        )
        print(
            f"full parity suite, alternating with those            : {med(full_after):7.2f} s  "
            f"{['%.2f' % x for x in full_after]}"
        )
        print(
            f"ratio incremental / full suite                       : {inc_s / med(full_after):7.2f}x  (goal "
            "<= 0.1)"
        )
    finally:
        if not args.keep:
            with psycopg.connect(args.admin_dsn, autocommit=True) as c:
                c.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        else:
            print(f"kept database {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
