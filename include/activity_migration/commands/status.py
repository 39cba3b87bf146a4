"""``activity-migration status``: where the migration stands, from the state schema."""

from __future__ import annotations

import argparse
import json

from ..db import connection
from ..status import collect
from ._common import add_database_args, database_dsn


def _print_human(data: dict, indent: int = 0) -> None:
    pad = "  " * indent
    for key, value in data.items():
        if isinstance(value, dict):
            print(f"{pad}{key}:")
            _print_human(value, indent + 1)
        elif isinstance(value, list):
            print(f"{pad}{key}:")
            for item in value:
                if isinstance(item, dict):
                    print(f"{pad}  - " + ", ".join(f"{k}={v}" for k, v in item.items()))
                else:
                    print(f"{pad}  - {item}")
        else:
            print(f"{pad}{key}: {value}")


def _run(args: argparse.Namespace) -> int:
    with connection(database_dsn(args)) as conn:
        data = collect(conn)
    if args.json:
        print(json.dumps(data, indent=2, default=str))
    else:
        _print_human(data)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "status",
        help="show the migration's state (phases, backfill, tiers, validation)",
        description="Show where the migration stands, read from the migration's state schema.",
    )
    add_database_args(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_run)
