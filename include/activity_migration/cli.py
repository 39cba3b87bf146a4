"""The ``activity-migration`` command.

Subcommands live one per module in ``activity_migration/commands/``; each module defines
``register(subparsers)`` and sets ``func`` on its parser. Errors of the migration
(``MigrationError``) print one clear line and exit 2; bad arguments exit 2 (argparse).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

from . import commands
from .errors import MigrationError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="activity-migration",
        description="Move a live Postgres app from trigger-based activity logging to an event table, "
        "online and reversibly. Database: --dsn, else the Airflow connection --conn-id "
        "(AIRFLOW_CONN_<ID> or airflow_settings.yaml; the embedded demo Postgres by default).",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        if hasattr(module, "register"):
            module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not args.verbose:
        # GX logs dozens of INFO lines about its own internals on import; ours say what matters
        logging.getLogger("great_expectations").setLevel(logging.WARNING)
    try:
        return int(args.func(args) or 0)
    except MigrationError as exc:
        print(f"activity-migration {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"activity-migration {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
