#!/usr/bin/env python3
"""The activity read queries, old (activity_logs) vs new (events / event_feed), side by side in one run.

A throwaway demo database is seeded with ``--rows`` history rows (default 2M), taken through phases
1-4 (infrastructure, dual write, read path, backfill: events hold the whole history), then each
query of ``include/sql/outcome/queries/`` runs ``--runs`` times per form: warm (same connection,
after one unmeasured run) and cold (the first run on a fresh connection: plan and catalog caches
cold; Postgres' shared buffers and the OS cache stay warm, since evicting them needs a server
restart and root). Reported: p50/p95 ms (client-timed, rows fetched), the plan's buffers (EXPLAIN
ANALYZE BUFFERS) and its first nodes.

    .venv/bin/python benchmarks/activity_queries_old_vs_new.py [--rows 2000000] [--runs 30] [--admin-dsn DSN]

Not a timed test: figures depend on the machine; compare the ratios of one run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "include"))
sys.path.insert(0, str(ROOT / "tests"))

from activity_migration.config import load_config  # noqa: E402
from activity_migration.demo.seed import seed  # noqa: E402
from activity_migration.ledger import RunContext  # noqa: E402
from activity_migration.outcome import queries  # noqa: E402
from activity_migration.phases import p1_infrastructure, p2_dual_write, p3_read_path, p4_backfill  # noqa: E402
from testdb import create_database, drop_database  # noqa: E402


def _cold(dsn: str, cfg, q, form: str, params: dict, n: int) -> list[float]:
    out = []
    for _ in range(n):
        with psycopg.connect(dsn) as conn:
            out.append(queries.run_form(conn, cfg, q, form, params, runs=1)["first_ms"])
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--runs", type=int, default=30, help="warm runs per query and form")
    ap.add_argument(
        "--cold", type=int, default=5, help="cold runs (fresh connection each) per query and form"
    )
    ap.add_argument("--admin-dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--keep", action="store_true", help="keep the database (its name is printed)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    cfg, ctx = load_config(), RunContext("staging", "demo", "benchmark")
    name, dsn = create_database(args.admin_dsn, prefix="amt_bench_q")
    try:
        t = time.monotonic()
        seed(dsn, rows=args.rows)
        print(f"seeded {args.rows:,} rows in {time.monotonic() - t:.0f} s ({name})", flush=True)
        t = time.monotonic()
        for apply in (p1_infrastructure.apply, p2_dual_write.apply, p3_read_path.apply, p4_backfill.apply):
            apply(dsn, cfg, ctx)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
            print(f"phases 1-4 + VACUUM ANALYZE in {time.monotonic() - t:.0f} s", flush=True)
            params = queries.choose_parameters(conn, cfg)
        print("parameters: " + json.dumps(params))
        results = {}
        with psycopg.connect(dsn) as conn:
            for q in queries.QUERIES:
                for form in queries.FORMS:
                    queries.run_form(conn, cfg, q, form, params, runs=1)  # warm up
                    warm = queries.run_form(conn, cfg, q, form, params, runs=args.runs)
                    results[(q.name, form)] = warm
        for q in queries.QUERIES:
            for form in queries.FORMS:
                cold = _cold(dsn, cfg, q, form, params, args.cold)
                results[(q.name, form)]["cold_p50_ms"] = round(statistics.median(cold), 3)
        _print(results, args)
        if args.json:
            args.json.write_text(json.dumps({f"{k[0]}:{k[1]}": v for k, v in results.items()}, indent=2))
    finally:
        if args.keep:
            print(f"kept database {name}")
        else:
            drop_database(args.admin_dsn, name)
    return 0


def _print(results: dict, args: argparse.Namespace) -> None:
    print(f"\n{args.rows:,} rows; warm: {args.runs} runs, cold: {args.cold} fresh connections; ms")
    print(
        "| query | old p50 | old p95 | old cold | old buffers | new p50 | new p95 | new cold | new buffers "
        "| p50 new/old |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for q in queries.QUERIES:
        o, n = results[(q.name, "legacy")], results[(q.name, "events")]
        if "p50_ms" not in o or "p50_ms" not in n:
            print(f"| {q.name} | not measured: {o.get('not_measured') or n.get('not_measured')} |")
            continue
        print(
            f"| {q.name} | {o['p50_ms']} | {o['p95_ms']} | {o['cold_p50_ms']} "
            f"| {o['shared_hit'] + o['shared_read']} "
            f"| {n['p50_ms']} | {n['p95_ms']} | {n['cold_p50_ms']} | {n['shared_hit'] + n['shared_read']} "
            f"| {n['p50_ms'] / o['p50_ms']:.3f} |"
        )
    for q in queries.QUERIES:
        for form in queries.FORMS:
            print(f"  {q.name} {form}: {' > '.join(results[(q.name, form)].get('nodes', [])[:5])}")


if __name__ == "__main__":
    sys.exit(main())
