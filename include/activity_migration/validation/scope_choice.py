"""What a validation run compares, and over which scope.

Events are compared with the legacy table, with phase 6's archive of it, or with nothing
(the archive deleted). The scope is ``full`` or ``incremental``: the rows since the last
successful check's watermark minus an overlap, plus one sampled key range; it falls back to
``full`` when there is no earlier successful check or the table is small.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import psycopg
from psycopg import sql

from .. import ledger
from ..config import MigrationConfig
from ..db import load_sql, scalar
from ..errors import MigrationError
from . import parity

DEFAULT_OVERLAP = dt.timedelta(minutes=15)
DEFAULT_SAMPLE_RANGES = 30
# Rolling sample budget: at most this many times the new rows, but at least this many rows.
DEFAULT_SAMPLE_RATIO = 0.5
DEFAULT_SAMPLE_MIN_ROWS = 10_000
# Up to this many legacy rows the incremental scope checks every row (a full parity pass over
# 200k rows takes about a second): a rolling sample of a small table finds a changed row late.
FULL_CHECK_BELOW_ROWS = 200_000


def last_checked_upto(
    conn: psycopg.Connection, cfg: MigrationConfig, suite: str, environment: str
) -> dt.datetime | None:
    q = load_sql(
        "validation/21_read_last_checked_upto.sql",
        results=sql.Identifier(cfg.state_schema, "validation_results"),
    )
    return scalar(conn, q, (suite, environment))


def choose_scope(
    conn: psycopg.Connection,
    cfg: MigrationConfig,
    requested: str,
    suites: list[str],
    environment: str,
    *,
    sample_ranges: int,
    run_date: dt.date,
    overlap: dt.timedelta,
    ktype: str | None,
    sample_ratio: float = DEFAULT_SAMPLE_RATIO,
    sample_min_rows: int = DEFAULT_SAMPLE_MIN_ROWS,
    full_check_below_rows: int = FULL_CHECK_BELOW_ROWS,
) -> parity.Scope:
    if requested not in ("full", "incremental"):
        raise MigrationError(f"scope must be 'full' or 'incremental', got {requested!r}")
    if requested == "full":
        return parity.Scope(name="full", reason="requested")
    if ktype is None:
        return parity.Scope(name="full", reason="no legacy rows to compare")
    rows = parity.estimated_source_rows(conn, cfg)
    if rows <= full_check_below_rows:
        return parity.Scope(
            name="full",
            reason=f"small table (about {rows} rows, at most {full_check_below_rows}): every row checked",
        )
    marks = {s: last_checked_upto(conn, cfg, s, environment) for s in suites if s != "quarantine"}
    never = [s for s, m in marks.items() if m is None]
    if never:
        return parity.Scope(
            name="full",
            reason=f"no earlier successful check of {never} in {environment}: "
            "the first incremental run checks everything",
        )
    since = min(m for m in marks.values() if m is not None) - overlap  # none is None here (never)
    new_rows = parity.new_source_rows(conn, cfg, since)
    budget = parity.sample_budget(new_rows, sample_ratio, sample_min_rows) if sample_ranges > 0 else 0
    lo, hi, idx, slices = parity.sample_range(conn, cfg, ktype, sample_ranges, run_date, budget)
    return parity.Scope(
        name="incremental",
        since=since,
        lo=lo,
        hi=hi,
        sample_index=idx,
        sample_ranges=slices,
        budget=budget,
        new_source_rows=new_rows,
        reason=f"rows since the last successful check minus {overlap}",
    )


@dataclass(frozen=True)
class ValidationSource:
    """What events are compared with: the legacy table, phase 6's archive of it, or nothing left."""

    cfg: MigrationConfig | None  # the config with that relation as the source (None: no legacy rows left)
    live: bool  # the legacy table itself (it still grows)
    note: str


def validation_source(conn: psycopg.Connection, cfg: MigrationConfig) -> ValidationSource:
    """The legacy table while it is one; after phase 6 its archive while it exists; then nothing."""
    kind = scalar(
        conn,
        "SELECT relkind::text FROM pg_class WHERE oid = to_regclass(%s)",
        (sql.Identifier(cfg.source.schema, cfg.source.table).as_string(conn),),
    )
    if kind in ("r", "p"):
        return ValidationSource(cfg, True, f"the legacy table {cfg.source_table}")
    from ..phases.p6_cleanup import archive_config, current_archive

    arch = current_archive(conn, cfg) if ledger.state_schema_exists(conn, cfg) else None
    if (
        arch
        and not arch["deleted_at"]
        and scalar(
            conn,
            "SELECT to_regclass(%s) IS NOT NULL",
            (sql.Identifier(cfg.state_schema, arch["name"]).as_string(conn),),
        )
    ):
        return ValidationSource(
            archive_config(cfg, arch["name"]),
            False,
            f"phase 6 archived {cfg.source_table}: events compared with the archive "
            f"{cfg.state_schema}.{arch['name']} (every row)",
        )
    return ValidationSource(
        None,
        False,
        f"{cfg.source_table} and its archive are gone (phase 6 ran and the "
        "archive was deleted): no legacy rows left to compare; events integrity "
        "and quarantine only",
    )
