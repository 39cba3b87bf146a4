"""``activity-migration backfill``: plan and copy the history with N workers (outside Airflow)."""

from __future__ import annotations

import argparse

from ..backfill.options import BackfillParams
from ..config import load_config
from ..ledger import RunContext
from ..phases import p4_backfill
from ..run_rules import production_params
from ._common import add_flags, database_command, database_dsn, positive_float, positive_int, print_json


def _ratio_or_off(value: str) -> float | str:
    return "null" if value.strip().lower() in ("off", "null", "none") else float(value)


def _run(args: argparse.Namespace) -> int:
    values = {
        "max_parallel_chunks": args.workers,
        "initial_chunk_rows": args.initial_chunk_rows,
        "chunk_target_seconds": args.chunk_target_seconds,
        "lease_seconds": args.lease_seconds,
        "yield_ratio": args.yield_ratio,
        "max_app_p95_ratio": args.max_app_p95_ratio,
        "dry_run": args.dry_run,
        "allow_without_cutoff": args.allow_without_cutoff,
        "replan": args.replan,
        "defer_search_index": not args.keep_search_index,
    }
    values = {k: v for k, v in values.items() if v is not None}  # unset: BackfillParams' defaults
    ctx = RunContext(environment=args.environment or "production", mode="normal", actor="cli")
    values, _ = production_params(ctx.environment, values)  # the DAG's production rules (no cutoff bypass)
    params = BackfillParams.from_mapping(values)
    out = p4_backfill.apply(
        database_dsn(args), load_config(), ctx, params, workers=args.workers, check=not args.no_check
    )
    print_json(out)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = database_command(
        sub,
        "backfill",
        _run,
        help="plan and run the phase-4 backfill with N worker threads",
        description="Copies activity_logs history into events in chunks (resumable: re-run to go on), "
        "then check that nothing was lost. Same code as the migration_p4_backfill DAG.",
    )
    d = BackfillParams()
    p.add_argument(
        "--workers",
        type=positive_int,
        default=d.max_parallel_chunks,
        help=f"parallel workers (default {d.max_parallel_chunks})",
    )
    p.add_argument(
        "--initial-chunk-rows",
        type=positive_int,
        default=None,
        help=f"planned chunk size (rows; default {d.initial_chunk_rows})",
    )
    p.add_argument(
        "--chunk-target-seconds",
        type=positive_float,
        default=None,
        help=f"wanted duration of one chunk transaction; sizes adapt (default {d.chunk_target_seconds:g})",
    )
    p.add_argument(
        "--yield-ratio",
        type=float,
        default=None,
        help=f"after each chunk, sleep this times its duration (default {d.throttle.yield_ratio:g})",
    )
    p.add_argument(
        "--max-app-p95-ratio",
        type=_ratio_or_off,
        default=None,
        help="latency objective: the app's write p95 over its idle p95 that the controller holds "
        f"(default {d.throttle.max_app_p95_ratio:g}; 'off' = the fixed --yield-ratio)",
    )
    p.add_argument(
        "--lease-seconds",
        type=positive_float,
        default=60.0,
        help="take over a chunk of a dead worker after this long (default 60)",
    )
    add_flags(
        p,
        {
            "--dry-run": "plan and report only; write nothing",
            "--allow-without-cutoff": "start although phase 2 recorded no cutoff (tests, demos)",
            "--replan": "throw the existing chunk plan away and plan again",
            "--no-check": "skip the zero-loss check at the end",
            "--keep-search-index": "keep the full-text GIN during the copy (default: dropped before it, "
            "built CONCURRENTLY after)",
        },
    )
