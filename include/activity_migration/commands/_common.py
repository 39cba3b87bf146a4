"""Arguments every database-facing subcommand shares: where the database is."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from ..connections import ENVIRONMENT_CONN_IDS, PRODUCTION_CONN_ID, resolve_dsn
from ..errors import ConfigError


def add_database_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("database")
    group.add_argument("--dsn", help="libpq connection string/URI (overrides --conn-id / --environment)")
    group.add_argument(
        "--conn-id",
        default=None,
        help=f"Airflow connection id (default {PRODUCTION_CONN_ID}; AIRFLOW_CONN_<ID> or "
        "airflow_settings.yaml)",
    )
    group.add_argument(
        "--environment",
        choices=sorted(ENVIRONMENT_CONN_IDS),
        default=None,
        help="pick the connection of an environment (staging -> activity_db_staging)",
    )


def database_dsn(args: argparse.Namespace) -> str:
    if getattr(args, "dsn", None):
        return args.dsn
    environment = getattr(args, "environment", None) or "production"
    conn_id = getattr(args, "conn_id", None) or ENVIRONMENT_CONN_IDS.get(environment)
    if conn_id is None:
        raise ConfigError(f"environment must be one of {sorted(ENVIRONMENT_CONN_IDS)}, got {environment!r}")
    return resolve_dsn(conn_id)


def database_command(
    sub: argparse._SubParsersAction,
    name: str,
    func: Callable[[argparse.Namespace], int],
    *,
    help: str,
    description: str | None,
) -> argparse.ArgumentParser:
    """The parser of a subcommand that works on the application database (``--dsn`` and the rest)."""
    p = sub.add_parser(name, help=help, description=description)
    add_database_args(p)
    p.set_defaults(func=func)
    return p


def add_flags(parser: Any, flags: dict[str, str]) -> None:
    """On/off options (``action="store_true"``) of ``parser`` or of one of its groups: name → help."""
    for name, text in flags.items():
        parser.add_argument(name, action="store_true", help=text)


def add_json_flag(parser: argparse.ArgumentParser, help: str | None = "machine-readable output") -> None:
    parser.add_argument("--json", action="store_true", help=help)


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def print_result(args: argparse.Namespace, data: Any, human: Callable[[Any], None]) -> None:
    """``data`` as JSON with ``--json``, else as ``human`` prints it."""
    print_json(data) if args.json else human(data)


def _checked_number(
    name: str, convert: Callable[[str], Any], accepts: Callable[[Any], bool], expected: str, out_of_range: str
) -> Callable[[str], Any]:
    """An argparse ``type`` that converts and then checks a number; errors say what was expected."""

    def parse(value: str) -> Any:
        try:
            n = convert(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {value!r}") from None
        if not accepts(n):
            raise argparse.ArgumentTypeError(f"expected {out_of_range}, got {n}")
        return n

    parse.__name__ = name
    return parse


positive_int = _checked_number(
    "positive_int", int, lambda n: n > 0, "a positive integer", "a positive integer"
)
positive_float = _checked_number(
    "positive_float", float, lambda n: n > 0, "a positive number", "a positive number"
)
non_negative_int = _checked_number("non_negative_int", int, lambda n: n >= 0, "a whole number", "0 or more")
