"""``activity-migration quarantine``: list quarantined source rows, or acknowledge them.

Phase 6 refuses to clean up while a quarantined row is neither resolved nor acknowledged.
Acknowledging says "a person looked at these rows and accepts that they stay only in the
quarantine (and in the archive)"; it records who and when.
"""

from __future__ import annotations

import argparse

from psycopg import sql

from ..config import load_config
from ..db import connection, fetch_all, load_sql
from ..ledger import state_schema_exists
from ..phases.p6_cleanup import acknowledge_quarantine, quarantine_open
from ._common import add_json_flag, database_command, database_dsn, print_json


def _run(args: argparse.Namespace) -> int:
    cfg = load_config()
    with connection(database_dsn(args)) as conn:
        if args.ack:
            n = acknowledge_quarantine(conn, args.by, reason=args.reason, all_rows=args.all, cfg=cfg)
            print(
                f"acknowledged {n} quarantined rows as {args.by}"
                + (f" (reason {args.reason})" if args.reason else "")
            )
            return 0
        open_rows = quarantine_open(conn, cfg)
        summary = (
            fetch_all(
                conn,
                load_sql(
                    "catalog/10_summarize_quarantine.sql",
                    quarantine=sql.Identifier(cfg.state_schema, "quarantine"),
                ),
            )
            if state_schema_exists(conn, cfg)
            else []
        )
    if args.json:
        print_json({"open": open_rows, "by_reason": summary})
        return 0
    if not summary:
        print("quarantine is empty")
        return 0
    print(f"{'reason':30} {'total':>8} {'acked':>8} {'resolved':>8}")
    for r in summary:
        print(f"{r['reason']:30} {r['total']:>8} {r['acknowledged']:>8} {r['resolved']:>8}")
    total_open = sum(r["n"] for r in open_rows)
    print(f"open (blocks phase 6): {total_open}")
    return 1 if total_open else 0


def register(sub: argparse._SubParsersAction) -> None:
    p = database_command(
        sub,
        "quarantine",
        _run,
        help="list quarantined rows, or acknowledge them (--ack) so cleanup may run",
        description="List the quarantine by reason (exit 1 while rows are open), or acknowledge open "
        "rows: --ack --by NAME with --all or --reason R.",
    )
    p.add_argument(
        "--ack", action="store_true", help="acknowledge open rows (needs --by and --all or --reason)"
    )
    p.add_argument("--by", help="who acknowledges (recorded)")
    scope = p.add_mutually_exclusive_group()
    scope.add_argument("--all", action="store_true", help="every open row")
    scope.add_argument("--reason", help="only rows quarantined for this reason (e.g. unknown_entity_type)")
    add_json_flag(p, help="machine-readable listing")
