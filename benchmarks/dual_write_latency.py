"""Write latency of a logged insert: legacy trigger vs dual write, side by side in one run.

    .venv/bin/python benchmarks/dual_write_latency.py [--inserts 2000] [--blocks 4]
        [--admin-dsn postgresql://postgres@127.0.0.1:5432/postgres] [--rows 20000]

Seeds a fresh database with the demo app, applies phase 1, then alternates blocks of
single-row inserts into ``public.notifications`` (each its own transaction, commit included):
a block with the legacy trigger function, phase 2's switch, a block in dual write, phase 2's
rollback, and so on (``--blocks`` of each mode, ``--inserts`` per mode in total). Alternating
keeps drift (cache warm-up, autovacuum, table growth) out of the ratio.

Prints one JSON object: p50/p95/mean per mode (ms) and the dual/legacy ratios.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid

import psycopg
from psycopg import sql

from activity_migration.config import load_config
from activity_migration.demo.seed import seed
from activity_migration.ledger import RunContext
from activity_migration.phases import p1_infrastructure as p1
from activity_migration.phases import p2_dual_write as p2

INSERT = (
    "INSERT INTO public.notifications (customer_id, user_id, recipient_id, kind, title, body) "
    "VALUES (%s, %s, %s, 'info', 'Benchmark', 'one logged insert')"
)


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def _block(dsn: str, n: int, ids: tuple) -> list[float]:
    out = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(INSERT, ids)  # warm the plan cache of this session
        for _ in range(n):
            t = time.perf_counter()
            conn.execute(INSERT, ids)
            out.append((time.perf_counter() - t) * 1000)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--admin-dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    p.add_argument("--inserts", type=int, default=2000, help="inserts per mode (total)")
    p.add_argument("--blocks", type=int, default=4, help="alternating blocks per mode")
    p.add_argument("--rows", type=int, default=20000, help="activity_logs history rows to seed")
    args = p.parse_args(argv)

    name = f"bench_dw_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = psycopg.conninfo.make_conninfo(args.admin_dsn, dbname=name)
    cfg, ctx = load_config(), RunContext(environment="staging", mode="demo", actor="benchmark")
    try:
        seed(dsn, rows=args.rows, progress=lambda s: None)
        p1.apply(dsn, cfg, ctx)
        p2.run_preflight(dsn, cfg, ctx)
        p2.backup(dsn, cfg, ctx)
        with psycopg.connect(dsn) as conn:
            ids = conn.execute(
                "SELECT customer_id, user_id, recipient_id FROM public.notifications LIMIT 1"
            ).fetchone()
        per_block = max(1, args.inserts // args.blocks)
        legacy: list[float] = []
        dual: list[float] = []
        for _ in range(args.blocks):
            legacy += _block(dsn, per_block, ids)
            p2.switch(dsn, cfg, ctx)
            dual += _block(dsn, per_block, ids)
            p2.rollback(dsn, cfg, ctx)
        with psycopg.connect(dsn) as conn:
            linked = conn.execute(
                "SELECT count(*) FROM public.events WHERE entity_type = 'notification'"
            ).fetchone()[0]
        res = {
            "inserts_per_mode": len(legacy),
            "blocks_per_mode": args.blocks,
            "history_rows": args.rows,
            "legacy_trigger_ms": {
                "p50": round(_pct(legacy, 0.5), 3),
                "p95": round(_pct(legacy, 0.95), 3),
                "mean": round(statistics.fmean(legacy), 3),
            },
            "dual_write_ms": {
                "p50": round(_pct(dual, 0.5), 3),
                "p95": round(_pct(dual, 0.95), 3),
                "mean": round(statistics.fmean(dual), 3),
            },
            "events_written_in_dual_write": linked,
        }
        res["ratio_p50"] = round(res["dual_write_ms"]["p50"] / res["legacy_trigger_ms"]["p50"], 3)
        res["ratio_p95"] = round(res["dual_write_ms"]["p95"] / res["legacy_trigger_ms"]["p95"], 3)
        res["ratio_mean"] = round(res["dual_write_ms"]["mean"] / res["legacy_trigger_ms"]["mean"], 3)
        print(json.dumps(res, indent=2))
    finally:
        with psycopg.connect(args.admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
