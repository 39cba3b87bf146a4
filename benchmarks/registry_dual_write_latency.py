"""Dual-write latency with the event-type registry on vs off, side by side in one run.

    .venv/bin/python benchmarks/registry_dual_write_latency.py [--inserts 2000] [--blocks 4]
        [--admin-dsn postgresql://postgres@127.0.0.1:5432/postgres] [--rows 20000]

The registry adds nothing to publish_activity (no statement, no lock per event): its counts come
from a set-based recount. So "on" here is the worst case: the recount running back to back in
another session for the whole block (the nightly runs it once), while single-row inserts into
``public.notifications`` go through the dual-write trigger path (phase 2), each its own
transaction. Blocks alternate (off, on, off, on ...) to keep drift out of the ratio. The legacy
benchmark's helpers (benchmarks/dual_write_latency.py) time the inserts.

Prints one JSON object: p50/p95/mean per mode (ms), the on/off ratios and the recounts run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dual_write_latency import _block, _pct  # noqa: E402

from activity_migration.config import load_config  # noqa: E402
from activity_migration.demo.seed import seed  # noqa: E402
from activity_migration.event_types import registry  # noqa: E402
from activity_migration.ledger import RunContext  # noqa: E402
from activity_migration.phases import p1_infrastructure as p1  # noqa: E402
from activity_migration.phases import p2_dual_write as p2  # noqa: E402


def _recount_loop(dsn: str, cfg, stop: threading.Event, done: list[int]) -> None:
    with psycopg.connect(dsn) as conn:
        while not stop.is_set():
            registry.refresh_counts(conn, cfg)
            conn.commit()
            done[0] += 1


def _stats(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(_pct(values, 0.5), 3),
        "p95": round(_pct(values, 0.95), 3),
        "mean": round(statistics.fmean(values), 3),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--admin-dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    p.add_argument("--inserts", type=int, default=2000, help="inserts per mode (total)")
    p.add_argument("--blocks", type=int, default=4, help="alternating blocks per mode")
    p.add_argument("--rows", type=int, default=20000, help="activity_logs history rows to seed")
    args = p.parse_args(argv)

    name = f"bench_reg_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = psycopg.conninfo.make_conninfo(args.admin_dsn, dbname=name)
    cfg, ctx = load_config(), RunContext(environment="staging", mode="demo", actor="benchmark")
    try:
        seed(dsn, rows=args.rows, progress=lambda s: None)
        p1.apply(dsn, cfg, ctx)
        p2.apply(dsn, cfg, ctx)
        with psycopg.connect(dsn) as conn:
            conn.execute(
                "INSERT INTO public.events (event_type, category, entity_type, source, occurred_at) "
                "SELECT 'notification.sent', 'communication', 'notification', 'service', now() "
                "FROM generate_series(1, %s)",
                (args.rows,),
            )  # something to recount
            ids = conn.execute(
                "SELECT customer_id, user_id, recipient_id FROM public.notifications LIMIT 1"
            ).fetchone()
        per_block = max(1, args.inserts // args.blocks)
        off: list[float] = []
        on: list[float] = []
        recounts = [0]
        for _ in range(args.blocks):
            off += _block(dsn, per_block, ids)
            stop = threading.Event()
            th = threading.Thread(target=_recount_loop, args=(dsn, cfg, stop, recounts), daemon=True)
            th.start()
            on += _block(dsn, per_block, ids)
            stop.set()
            th.join()
        res = {
            "inserts_per_mode": len(off),
            "blocks_per_mode": args.blocks,
            "history_rows": args.rows,
            "registry_off_ms": _stats(off),
            "registry_on_ms": _stats(on),
            "recounts_during_on": recounts[0],
        }
        for k in ("p50", "p95", "mean"):
            res[f"ratio_{k}"] = round(res["registry_on_ms"][k] / res["registry_off_ms"][k], 3)
        print(json.dumps(res, indent=2))
    finally:
        with psycopg.connect(args.admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
