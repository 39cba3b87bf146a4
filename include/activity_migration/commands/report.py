"""``activity-migration report``: the outcome report (docs/outcome-report.md): promised gains beside the
measured ones, write latency per tier, activity queries old vs new, counts, approvals, durations."""

from __future__ import annotations

import argparse

from ..config import load_config
from ..ledger import RunContext
from ._common import database_command, database_dsn, positive_float


def _run(args: argparse.Namespace) -> int:
    from ..connections import resolve_dsn
    from ..outcome.report import promised_lines, write_report

    environment = args.environment or "production"
    staging = args.staging_dsn
    if staging is None and environment == "production" and not args.dsn:
        try:
            staging = resolve_dsn("activity_db_staging")
        except Exception:  # noqa: BLE001 - staging is optional here: the page says it is missing
            staging = None
    out = write_report(
        database_dsn(args),
        load_config(),
        out_dir=args.out,
        measure=not args.no_measure,
        ctx=RunContext(environment=environment, mode="normal", actor="cli"),
        staging_dsn=staging,
        window_s=args.window,
    )
    print("\n".join(promised_lines(out["figures"])))
    print(f"\nreport: {out['html']}\nfigures: {out['json']}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = database_command(
        sub,
        "report",
        _run,
        help="the outcome report: promised vs measured gains (HTML + JSON)",
        description=__doc__,
    )
    p.add_argument(
        "--out",
        default=None,
        help="folder for outcome-report.html/.json (default .local/outcome-report/<environment>)",
    )
    p.add_argument("--no-measure", action="store_true", help="report the stored samples only (no new sample)")
    p.add_argument(
        "--window", type=positive_float, default=None, help="seconds of application traffic to sample"
    )
    p.add_argument(
        "--staging-dsn", default=None, help="staging database, for the phase durations side by side"
    )
