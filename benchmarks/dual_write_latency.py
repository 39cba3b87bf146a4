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

import json
import sys

import psycopg
from latency_harness import arguments, demo_after_phase_1, notification_ids, ratios, stats, timed_block

from activity_migration.phases import p2_dual_write as p2


def main(argv: list[str] | None = None) -> int:
    args = arguments(__doc__.splitlines()[0], argv)
    with demo_after_phase_1(args, "bench_dw") as (dsn, cfg, ctx):
        p2.run_preflight(dsn, cfg, ctx)
        p2.backup(dsn, cfg, ctx)
        ids = notification_ids(dsn)
        per_block = max(1, args.inserts // args.blocks)
        legacy: list[float] = []
        dual: list[float] = []
        for _ in range(args.blocks):
            legacy += timed_block(dsn, per_block, ids)
            p2.switch(dsn, cfg, ctx)
            dual += timed_block(dsn, per_block, ids)
            p2.rollback(dsn, cfg, ctx)
        with psycopg.connect(dsn) as conn:
            row = conn.execute(
                "SELECT count(*) FROM public.events WHERE entity_type = 'notification'"
            ).fetchone()
        res = {
            "inserts_per_mode": len(legacy),
            "blocks_per_mode": args.blocks,
            "history_rows": args.rows,
            "legacy_trigger_ms": stats(legacy),
            "dual_write_ms": stats(dual),
            "events_written_in_dual_write": row[0] if row else 0,
        }
        res.update(ratios(res["dual_write_ms"], res["legacy_trigger_ms"]))
        print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
