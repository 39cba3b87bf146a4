"""``activity-migration rehearsal-copy``: a staging database for the rehearsal, copied from production."""

from __future__ import annotations

import argparse
import sys

from ..rehearsal_copy import DEFAULT_MAX_TABLE_ROWS, rehearsal_copy, resolve_endpoint
from ._common import non_negative_int, positive_int


def _run(args: argparse.Namespace) -> int:
    source = resolve_endpoint(args.source)
    target = resolve_endpoint(args.target)
    report = rehearsal_copy(
        source,
        target,
        sample_rows=args.sample_rows,
        max_table_rows=args.max_table_rows,
        publications=not args.no_publications,
        progress=lambda msg: print(f"... {msg}", file=sys.stderr, flush=True),
    )
    print(report.render())
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "rehearsal-copy",
        help="copy production's schema and a consistent sample of rows into an empty staging DB",
        description="Copies the application schema (tables, functions, triggers, policies, grants, "
        "sequences, views, publications; missing roles are created NOLOGIN) and a consistent sample of "
        "rows, including activity_logs, from production into an EMPTY staging database, so a rehearsal "
        "exercises the same triggers on realistic data. The migration's state schema is not copied: staging "
        "keeps its own ledger. Refuses a target that is not empty or that is the source. See "
        "docs/staging-rehearsal.md.",
    )
    p.add_argument(
        "--from",
        dest="source",
        required=True,
        metavar="CONN_ID_OR_DSN",
        help="source (production): an Airflow connection id (e.g. activity_db) or a libpq DSN",
    )
    p.add_argument(
        "--to",
        dest="target",
        required=True,
        metavar="CONN_ID_OR_DSN",
        help="target (staging, must exist and be empty): a connection id (e.g. activity_db_staging) or DSN",
    )
    p.add_argument(
        "--sample-rows",
        type=non_negative_int,
        required=True,
        metavar="N",
        help="rows of activity_logs to copy (a pseudo-random sample, consistent with the other tables)",
    )
    p.add_argument(
        "--max-table-rows",
        type=positive_int,
        default=DEFAULT_MAX_TABLE_ROWS,
        metavar="N",
        help="other tables up to this many rows are copied whole; bigger ones are sampled to it and "
        f"rows left without their foreign-key parent are dropped (default {DEFAULT_MAX_TABLE_ROWS})",
    )
    p.add_argument("--no-publications", action="store_true", help="do not create the source's publications")
    p.set_defaults(func=_run)
