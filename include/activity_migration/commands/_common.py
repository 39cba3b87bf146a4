"""Arguments every database-facing subcommand shares: where the database is."""

from __future__ import annotations

import argparse

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


def positive_int(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}") from None
    if n <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {n}")
    return n


def positive_float(value: str) -> float:
    try:
        n = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value!r}") from None
    if n <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {n}")
    return n
