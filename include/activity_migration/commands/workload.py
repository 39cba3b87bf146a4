"""``activity-migration workload``: play the demo application's writes at a target rate."""

from __future__ import annotations

import argparse

from ..demo.workload import PUBLISH_MODES
from ._common import add_json_flag, database_command, database_dsn, positive_float, positive_int


def _run(args: argparse.Namespace) -> int:
    from ..demo.workload import run_workload

    report = run_workload(
        database_dsn(args), args.seconds, args.rate, connections=args.connections, publish=args.publish
    )
    print(report.to_json() if args.json else report.summary())
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = database_command(
        sub,
        "workload",
        _run,
        help="play the demo application's writes (inserts, updates, deletes on the 18 tables)",
        description="Play the demo application's writes as authenticated users with JWT claims, across "
        "all 18 tables, paced to --rate transactions/s over --connections connections. With --publish auto "
        "(default) it publishes events itself for tables whose logging triggers are gone, like the "
        "upgraded application. Prints the achieved rate, latency percentiles and failures.",
    )
    p.add_argument("--seconds", type=positive_float, default=30.0, help="how long to run (default 30)")
    p.add_argument(
        "--rate",
        type=positive_float,
        default=50.0,
        help="target transactions per second in total (default 50)",
    )
    p.add_argument("--connections", type=positive_int, default=4, help="worker connections (default 4)")
    p.add_argument(
        "--publish",
        choices=PUBLISH_MODES,
        default="auto",
        help="auto: call publish_activity() where triggers are gone (default); never: do not",
    )
    add_json_flag(p, help="print the report as JSON")
