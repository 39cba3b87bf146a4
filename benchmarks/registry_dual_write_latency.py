"""Dual-write latency with the event-type registry on vs off, side by side in one run.

    .venv/bin/python benchmarks/registry_dual_write_latency.py [--inserts 2000] [--blocks 4]
        [--admin-dsn postgresql://postgres@127.0.0.1:5432/postgres] [--rows 20000]

The registry adds nothing to publish_activity (no statement, no lock per event): its counts come
from a set-based recount. So "on" here is the worst case: the recount running back to back in
another session for the whole block (the nightly runs it once), while single-row inserts into
``public.notifications`` go through the dual-write trigger path (phase 2), each its own
transaction. Blocks alternate (off, on, off, on ...) to keep drift out of the ratio.
benchmarks/latency_harness.py times the inserts, as for the dual-write benchmark.

Prints one JSON object: p50/p95/mean per mode (ms), the on/off ratios and the recounts run.
"""

from __future__ import annotations

import json
import sys
import threading

import psycopg
from latency_harness import arguments, demo_after_phase_1, notification_ids, ratios, stats, timed_block

from activity_migration.event_types import registry
from activity_migration.phases import p2_dual_write as p2


def _recount_loop(dsn: str, cfg, stop: threading.Event, done: list[int]) -> None:
    with psycopg.connect(dsn) as conn:
        while not stop.is_set():
            registry.refresh_counts(conn, cfg)
            conn.commit()
            done[0] += 1


def main(argv: list[str] | None = None) -> int:
    args = arguments(__doc__.splitlines()[0], argv)
    with demo_after_phase_1(args, "bench_reg") as (dsn, cfg, ctx):
        p2.apply(dsn, cfg, ctx)
        with psycopg.connect(dsn) as conn:
            conn.execute(
                "INSERT INTO public.events (event_type, category, entity_type, source, occurred_at) "
                "SELECT 'notification.sent', 'communication', 'notification', 'service', now() "
                "FROM generate_series(1, %s)",
                (args.rows,),
            )  # something to recount
        ids = notification_ids(dsn)
        per_block = max(1, args.inserts // args.blocks)
        off: list[float] = []
        on: list[float] = []
        recounts = [0]
        for _ in range(args.blocks):
            off += timed_block(dsn, per_block, ids)
            stop = threading.Event()
            th = threading.Thread(target=_recount_loop, args=(dsn, cfg, stop, recounts), daemon=True)
            th.start()
            on += timed_block(dsn, per_block, ids)
            stop.set()
            th.join()
        res = {
            "inserts_per_mode": len(off),
            "blocks_per_mode": args.blocks,
            "history_rows": args.rows,
            "registry_off_ms": stats(off),
            "registry_on_ms": stats(on),
            "recounts_during_on": recounts[0],
        }
        res.update(ratios(res["registry_on_ms"], res["registry_off_ms"]))
        print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
