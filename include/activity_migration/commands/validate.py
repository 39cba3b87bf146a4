"""``activity-migration validate``: run the validation suites and print the outcome."""

from __future__ import annotations

import argparse

from ..ledger import RunContext
from ._common import add_json_flag, database_command, database_dsn, print_json


def _run(args: argparse.Namespace) -> int:
    from ..validation.runner import run_suites
    from ..validation.suites import ALL_SUITES

    environment = args.environment or "production"
    outcome = run_suites(
        database_dsn(args),
        suites=args.suite or list(ALL_SUITES),
        scope="incremental" if args.incremental else "full",
        ctx=RunContext(environment=environment, actor="cli"),
        data_docs_dir=args.data_docs_dir,
        sample_ranges=args.sample_ranges,
    )
    if args.json:
        print_json(outcome.to_dict())
    else:
        print("\n".join(outcome.summary_lines()))
        parity = outcome.suites.get("parity")
        if parity and parity.statistics.get("entity_type_counts"):
            from ..validation.report import entity_type_table

            print("\nparity counts per entity type:")
            print(entity_type_table(parity.statistics["entity_type_counts"]))
    return 0 if outcome.success else 1


def register(sub: argparse._SubParsersAction) -> None:
    p = database_command(
        sub,
        "validate",
        _run,
        help="run the Great Expectations suites (parity, integrity, quarantine)",
        description="Run the validation suites against the application database, record the result "
        "in the state schema and build Data Docs (offline-readable). Exit 1 when an "
        "expectation fails.",
    )
    p.add_argument(
        "--suite",
        action="append",
        choices=["parity", "events_integrity", "quarantine"],
        help="suite to run (repeatable; default: all)",
    )
    scope = p.add_mutually_exclusive_group()
    scope.add_argument("--full", action="store_true", help="full scope (default)")
    scope.add_argument(
        "--incremental",
        action="store_true",
        help="rows since the last successful check + one sampled key range + whole-table counts",
    )
    p.add_argument(
        "--sample-ranges", type=int, default=30, help="incremental: key space cut into N ranges (default 30)"
    )
    p.add_argument("--data-docs-dir", default=None, help="default artifacts/data_docs/<environment>/")
    add_json_flag(p)
