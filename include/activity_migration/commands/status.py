"""``activity-migration status``: where the migration stands, from the state schema."""

from __future__ import annotations

import argparse

from ..db import connection
from ..status import collect
from ._common import add_json_flag, database_command, database_dsn, print_result


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
    print_result(args, data, _print_human)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = database_command(
        sub,
        "status",
        _run,
        help="show the migration's state (phases, backfill, tiers, validation)",
        description="Show where the migration stands, read from the migration's state schema.",
    )
    add_json_flag(p)
