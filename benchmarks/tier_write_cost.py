#!/usr/bin/env python3
"""Per trigger tier: write throughput and p95 latency of the tier's tables, triggers on vs off.

One run, side by side: a fresh demo database in the state phase 5 starts from (phase 1
infrastructure + phase 2 dual write: every legacy trigger calls publish_activity). For each
tier, ``--rounds`` times: the demo workload generator writes ONLY that tier's tables for
``--seconds`` with the triggers in place ("before"), the tier is backed up and dropped, the
same workload runs again ("after": the upgraded application publishes its events itself,
``publish="auto"``, so the comparison includes the app's own publish_activity call), and the
tier is restored for the next round. Reported: medians over rounds of achieved transactions/s
and client-side p95 latency (each transaction: one DML + commit, as the app's API does), and
the server-side probe (median INSERT+DELETE pair, rolled back) before/after.

    .venv/bin/python benchmarks/tier_write_cost.py [--dsn ADMIN_DSN] [--seconds 6] [--rounds 2]

Not a timed test: figures depend on the machine (2 cores here) and on fsync; ratios measured
in one run are what to compare.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "include"))

from activity_migration import perf, tiers  # noqa: E402
from activity_migration.config import load_config  # noqa: E402
from activity_migration.db import connection  # noqa: E402
from activity_migration.demo.seed import seed  # noqa: E402
from activity_migration.demo.workload import run_workload  # noqa: E402
from activity_migration.ledger import RunContext  # noqa: E402
from activity_migration.phases import p1_infrastructure, p2_dual_write  # noqa: E402


def _measure(dsn: str, tables: list[str], seconds: float, rate: float, connections: int) -> dict:
    report = run_workload(
        dsn,
        seconds=seconds,
        rate=rate,
        connections=connections,
        publish="auto",
        tables=[t.split(".", 1)[1] for t in tables],
    )
    with connection(dsn) as conn:
        probe = perf.probe_write_latency(conn, tables, 100)
    return {
        "tps": report.achieved_rate,
        "p95": report.latency_p95_ms,
        "failed": report.failed,
        "probe": probe["probe_ms"],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument(
        "--dsn",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="admin DSN; a throwaway database is created and dropped",
    )
    ap.add_argument("--seconds", type=float, default=6.0, help="workload seconds per measurement")
    ap.add_argument("--rounds", type=int, default=2, help="before/after pairs per tier")
    ap.add_argument("--rate", type=float, default=5000.0, help="target tx/s (high: as fast as it goes)")
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--rows", type=int, default=20000, help="activity history rows to seed")
    args = ap.parse_args()

    cfg = load_config()
    name = f"amt_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.dsn, autocommit=True) as c:
        c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = psycopg.conninfo.make_conninfo(args.dsn, dbname=name)
    try:
        seed(dsn, rows=args.rows)
        ctx = RunContext(environment="staging", mode="demo", dag_run_id="benchmark")
        p1_infrastructure.apply(dsn, cfg, ctx)
        p2_dual_write.apply(dsn, cfg, ctx)
        rows = []
        for tier in cfg.tiers:
            tables = tier.table_names
            before, after = [], []
            for _ in range(args.rounds):
                before.append(_measure(dsn, tables, args.seconds, args.rate, args.connections))
                with connection(dsn) as conn:
                    tiers.backup_tier(conn, cfg, tiers.plan_tier(conn, cfg, tier.tier))
                tiers.drop_tier(dsn, cfg, tier.tier)
                after.append(_measure(dsn, tables, args.seconds, args.rate, args.connections))
                tiers.restore_tier(dsn, cfg, tier.tier)
            med = lambda xs, k: statistics.median(x[k] for x in xs)  # noqa: E731
            rows.append(
                (
                    tier.tier,
                    len(tables),
                    med(before, "tps"),
                    med(after, "tps"),
                    med(before, "p95"),
                    med(after, "p95"),
                    med(before, "probe"),
                    med(after, "probe"),
                    sum(x["failed"] for x in before + after),
                )
            )
            print(f"tier {tier.tier} measured", file=sys.stderr, flush=True)
        hdr = (
            "tier",
            "tables",
            "tx/s before",
            "tx/s after",
            "tx/s ratio",
            "p95 ms before",
            "p95 ms after",
            "probe ms before",
            "probe ms after",
            "probe change",
            "failed tx",
        )
        print(
            f"\nPer tier, demo workload restricted to the tier's tables, {args.connections} connections, "
            f"{args.seconds:g} s x {args.rounds} rounds (medians); dual-write triggers before, app publishes "
            "after\n"
        )
        print(" | ".join(hdr))
        print(" | ".join("---" for _ in hdr))
        for t, n, tb, ta, pb, pa, qb, qa, failed in rows:
            print(
                f"{t} | {n} | {tb:.0f} | {ta:.0f} | {ta / tb:.2f}x | {pb:.2f} | {pa:.2f} | {qb:.3f} | "
                f"{qa:.3f} | "
                f"{(qa / qb - 1) * 100:+.0f}% | {failed}"
            )
    finally:
        with psycopg.connect(args.dsn, autocommit=True) as c:
            c.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
