"""``activity-migration seed``: build the demo application and its activity history."""

from __future__ import annotations

import argparse

from ..demo.app import KEY_TYPES
from ._common import add_json_flag, database_command, database_dsn, positive_int, print_json


def _run(args: argparse.Namespace) -> int:
    from ..demo.seed import seed

    result = seed(
        database_dsn(args),
        rows=args.rows,
        key_type=args.key_type,
        app_rows=args.app_users,
        batch_rows=args.batch_rows,
        writers=args.writers,
        progress=lambda line: print(line, flush=True),
    )
    if args.json:
        print_json(result)
    else:
        print(f"rows: {result['rows']}")
        print(f"seconds: {result['seconds']}")
        print(f"rows/s: {result['rows_per_second']}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = database_command(
        sub,
        "seed",
        _run,
        help="create the demo application (18 tables, 64 logging triggers) and N rows of activity history",
        description="Seed the demo application into an empty database: Supabase-like base (auth, roles, "
        "RLS), 18 tables with their 64 legacy logging triggers, application data, and --rows rows of "
        "history in public.activity_logs. A database seeded before gets more history; any other "
        "non-empty database is refused.",
    )
    p.add_argument(
        "--rows",
        type=positive_int,
        default=100_000,
        metavar="N",
        help="history rows to insert into activity_logs (default 100000)",
    )
    p.add_argument(
        "--key-type",
        choices=sorted(KEY_TYPES),
        default="uuid",
        help="type of activity_logs.id on a first seed (default uuid)",
    )
    p.add_argument(
        "--app-users",
        type=positive_int,
        default=None,
        metavar="N",
        help="application users to create (other tables scale with it; default: a few hundred)",
    )
    p.add_argument(
        "--batch-rows",
        type=positive_int,
        default=500_000,
        metavar="N",
        help="history rows per INSERT ... SELECT transaction (default 500000)",
    )
    p.add_argument(
        "--writers",
        type=positive_int,
        default=2,
        metavar="N",
        help="connections inserting history batches side by side (default 2)",
    )
    add_json_flag(p, help="print the result as JSON")
