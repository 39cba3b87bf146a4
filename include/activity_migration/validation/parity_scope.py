"""The scope of a parity run: everything, or new rows plus a rolling sample of older ones.

The incremental scope's inputs are read here: the source rows created since a watermark,
the planner's estimate of the table's rows, the sample budget and the key range sampled
tonight (deterministic by date, so every key comes round again).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from ..config import MigrationConfig
from ..db import fetch_one, scalar


@dataclass
class Scope:
    """What a run covers. ``since``/``lo``/``hi`` are None in the full scope.

    Incremental: source rows created since ``since``, plus a rolling sample of at most
    ``budget`` older rows: the first ``budget`` keys of the key range [lo, hi) (slice
    ``sample_index`` of ``sample_ranges`` slices of the key space, chosen by date).
    """

    name: str = "full"  # full | incremental
    since: dt.datetime | None = None  # source created_at / events created_at lower bound
    lo: str | None = None  # sampled key range [lo, hi); hi None = unbounded
    hi: str | None = None
    sample_index: int | None = None
    sample_ranges: int = 0  # slices the key space is cut into (>= the requested count)
    budget: int = 0  # at most this many rows sampled
    new_source_rows: int | None = None
    reason: str = ""

    def params(self) -> dict[str, Any]:
        return {"since": self.since, "lo": self.lo, "hi": self.hi, "budget": self.budget}

    def describe(self) -> dict[str, Any]:
        return {
            "scope": self.name,
            "since": self.since.isoformat() if self.since else None,
            "sample_lo": self.lo,
            "sample_hi": self.hi,
            "sample_index": self.sample_index,
            "sample_ranges": self.sample_ranges,
            "sample_budget": self.budget,
            "new_source_rows": self.new_source_rows,
            "scope_reason": self.reason,
        }


def new_source_rows(conn: psycopg.Connection, cfg: MigrationConfig, since: dt.datetime) -> int:
    """Source rows created at or after ``since`` (an index-only range scan of the created_at index)."""
    return int(
        scalar(
            conn,
            sql.SQL("SELECT count(*) FROM {t} WHERE {c} >= %s").format(
                t=sql.Identifier(cfg.source.schema, cfg.source.table),
                c=sql.Identifier(cfg.source.required_column("occurred_at")),
            ),
            (since,),
        )
    )


def sample_budget(new_rows: int, ratio: float, min_rows: int) -> int:
    """How many older rows the rolling sample may check: ``ratio`` x the new rows, at least ``min_rows``."""
    return max(int(min_rows), int(round(ratio * max(0, new_rows))))


def estimated_source_rows(conn: psycopg.Connection, cfg: MigrationConfig) -> int:
    """The planner's estimate of the source's rows (0 before the first ANALYZE: then count)."""
    ident = sql.Identifier(cfg.source.schema, cfg.source.table).as_string(conn)
    est = scalar(
        conn, "SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = to_regclass(%s)", (ident,)
    )
    if not est:
        est = scalar(
            conn,
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(cfg.source.schema, cfg.source.table)),
        )
    return int(est or 0)


def sample_range(
    conn: psycopg.Connection,
    cfg: MigrationConfig,
    ktype: str,
    ranges: int,
    run_date: dt.date,
    budget: int | None = None,
) -> tuple[str | None, str | None, int | None, int]:
    """The key range [lo, hi) sampled on ``run_date`` and the number of slices it was cut from.

    The key space is cut into ``max(ranges, estimated rows / budget)`` equal slices (so one
    slice holds about ``budget`` rows or fewer) and slice (date ordinal mod slices) is taken:
    deterministic by date, and every key comes round again after as many nights as there are
    slices. uuid keys: the 128-bit space; integer keys: [min, max] of the table (two index
    endpoint probes). ``ranges`` 0 = no sampling. Returns (lo, hi, index, slices).
    """
    if ranges <= 0:
        return None, None, None, 0
    slices = ranges
    if budget:
        est = (
            scalar(
                conn,
                "SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = to_regclass(%s)",
                (sql.Identifier(cfg.source.schema, cfg.source.table).as_string(conn),),
            )
            or 0
        )
        slices = max(ranges, -(-int(est) // max(1, budget)))
    i = run_date.toordinal() % slices
    if ktype == "uuid":
        lo = str(uuid.UUID(int=i * (1 << 128) // slices))
        hi = None if i == slices - 1 else str(uuid.UUID(int=(i + 1) * (1 << 128) // slices))
        return lo, hi, i, slices
    row = fetch_one(
        conn,
        sql.SQL("SELECT min({k}) AS lo, max({k}) AS hi FROM {t}").format(
            k=sql.Identifier(cfg.source.key), t=sql.Identifier(cfg.source.schema, cfg.source.table)
        ),
    )
    if not row or row["lo"] is None:
        return None, None, i, slices
    kmin, kmax = int(row["lo"]), int(row["hi"])
    width = max(1, -(-(kmax - kmin + 1) // slices))
    lo_key = kmin + i * width
    hi_key = None if i == slices - 1 else lo_key + width
    return str(lo_key), (None if hi_key is None else str(hi_key)), i, slices
