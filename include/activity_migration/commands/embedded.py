"""``activity-migration embedded start|stop|status``: the private demo Postgres."""

from __future__ import annotations

import argparse

from ..connections import PRODUCTION_CONN_ID, connection_spec, embedded_server
from ..embedded import EmbeddedPostgres


def _server(args: argparse.Namespace) -> EmbeddedPostgres:
    return embedded_server(connection_spec(args.conn_id))


def _run(args: argparse.Namespace) -> int:
    server = _server(args)
    if args.action == "start":
        print(server.start())
    elif args.action == "stop":
        print("stopped" if server.stop() else "not running")
    else:
        print(
            f"{'running' if server.is_running() else 'stopped'} on 127.0.0.1:{server.port}, data in "
            f"{server.datadir}"
        )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "embedded",
        help="start/stop the project's private Postgres",
        description="Start, stop or show the embedded demo Postgres (under .local/pg).",
    )
    p.add_argument("action", choices=["start", "stop", "status"])
    p.add_argument("--conn-id", default=PRODUCTION_CONN_ID, help="connection whose port the server uses")
    p.set_defaults(func=_run)
