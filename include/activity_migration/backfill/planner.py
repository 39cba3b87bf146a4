"""Split the legacy activity log into key ranges [lo, hi), recorded in the chunk ledger.

The plan lives in ``{state}.backfill_chunks`` (lo/hi as text, ``NULL`` = unbounded), so a
fresh Airflow, or the CLI, resumes where an earlier run stopped. Ranges are cut on the key
itself, never with OFFSET:

- uuid keys: the uuid space is cut into K equal ranges (random uuids spread evenly);
- integer keys: min..max is cut into K equal ranges;

with K = estimated rows / target rows (``pg_class.reltuples``; an exact count when the table
was never analysed). The first and last ranges are open, so every key is covered whatever
arrives later. Workers cut a range further when it holds more rows than their adaptive
chunk size (``copier``).

Planning is idempotent: an existing plan is reused (failed chunks go back to pending); it
is replaced only when none of its chunks has started yet, when it is complete and rows
without an event remain, or on an explicit ``replan``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

import psycopg
from psycopg import sql

from .. import ledger
from ..catalog import source_key_type
from ..config import MigrationConfig
from ..db import fetch_all, load_sql, scalar
from ..errors import MigrationError
from ..ledger import state_table

log = logging.getLogger(__name__)

PLAN_SETTING = "backfill_plan"
UUID_SPACE = 1 << 128


@dataclass(frozen=True)
class Chunk:
    lo: str | None
    hi: str | None


@dataclass(frozen=True)
class Plan:
    """A chunk plan: what it covers and how big the job is."""

    key_type: str
    chunks: tuple[Chunk, ...]
    estimated_rows: int
    rows_in_scope: int
    rows_done_before: int
    target_rows: int
    reused: bool
    written: bool
    planned_at: str

    @property
    def total_rows(self) -> int:
        return self.rows_done_before + self.rows_in_scope

    def summary(self) -> dict[str, Any]:
        d = asdict(self)
        d["chunks"] = len(self.chunks)
        d["first_chunks"] = [asdict(c) for c in self.chunks[:3]]
        d["total_rows"] = self.total_rows
        return d


def source_ident(cfg: MigrationConfig) -> sql.Identifier:
    return sql.Identifier(cfg.source.schema, cfg.source.table)


def events_ident(cfg: MigrationConfig) -> sql.Identifier:
    return sql.Identifier(cfg.target_schema, cfg.target_table)


def estimated_rows(conn: psycopg.Connection, cfg: MigrationConfig) -> int:
    est = scalar(
        conn, load_sql("p4_backfill/10_select_estimated_rows.sql"), (cfg.source.schema, cfg.source.table)
    )
    if est is None or est < 0:  # never analysed: count (a one-off, keyed on the primary key)
        est = scalar(conn, sql.SQL("SELECT count(*) FROM {}").format(source_ident(cfg)))
    return int(est)


def count_scope(conn: psycopg.Connection, cfg: MigrationConfig) -> int:
    """Source rows without an event and not quarantined: what the backfill still has to do."""
    return int(
        scalar(
            conn,
            load_sql(
                "p4_backfill/07_count_scope.sql",
                source=source_ident(cfg),
                key=cfg.source.key,
                events=events_ident(cfg),
                state=cfg.state_schema,
            ),
        )
    )


def uuid_boundaries(k: int) -> list[str]:
    """K-1 uuids cutting the uuid space into K equal ranges."""
    out = []
    for i in range(1, k):
        h = f"{(i * UUID_SPACE) // k:032x}"
        out.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return out


def integer_boundaries(lo: int, hi: int, k: int) -> list[str]:
    """Up to K-1 integers cutting [lo, hi] into K equal ranges."""
    span = hi - lo + 1
    step = max(1, math.ceil(span / k))
    return [str(lo + i * step) for i in range(1, k) if lo + i * step <= hi]


def compute_chunks(
    conn: psycopg.Connection, cfg: MigrationConfig, target_rows: int
) -> tuple[str, int, list[Chunk]]:
    ktype = source_key_type(conn, cfg)
    est = estimated_rows(conn, cfg)
    k = max(1, math.ceil(est / max(1, target_rows)))
    if ktype == "uuid":
        bounds = uuid_boundaries(k)
    else:
        row = fetch_all(
            conn,
            sql.SQL("SELECT min({k})::bigint AS lo, max({k})::bigint AS hi FROM {t}").format(
                k=sql.Identifier(cfg.source.key), t=source_ident(cfg)
            ),
        )[0]
        bounds = [] if row["lo"] is None else integer_boundaries(int(row["lo"]), int(row["hi"]), k)
    edges: list[str | None] = [None, *bounds, None]
    return ktype, est, [Chunk(edges[i], edges[i + 1]) for i in range(len(edges) - 1)]


def existing_chunks(conn: psycopg.Connection, cfg: MigrationConfig) -> list[dict[str, Any]]:
    return fetch_all(
        conn, load_sql("p4_backfill/11_select_chunks.sql", chunks=state_table(cfg, "backfill_chunks"))
    )


def plan(
    conn: psycopg.Connection,
    cfg: MigrationConfig,
    *,
    target_rows: int = 20_000,
    replan: bool = False,
    dry_run: bool = False,
) -> Plan:
    """Return the chunk plan, writing it to the chunk ledger unless one is reused or ``dry_run``.

    :param replan: replace an existing plan even when some of its chunks ran (refused while a
        chunk is being copied by a live worker)
    :param dry_run: compute and return the plan, write nothing
    """
    now = datetime.now(timezone.utc).isoformat()
    chunks_t = state_table(cfg, "backfill_chunks")
    with conn.transaction():
        if not dry_run:
            # one planner at a time (two DAG runs, or the CLI beside a DAG)
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{cfg.state_schema}.backfill_plan",))
        existing = existing_chunks(conn, cfg)
        scope = count_scope(conn, cfg)
        done_before = sum(
            int(c["rows_copied"]) + int(c["rows_quarantined"]) for c in existing if c["status"] == "done"
        )
        started = [c for c in existing if c["attempts"] > 0 or c["status"] != "pending"]
        finished = bool(existing) and all(c["status"] == "done" for c in existing)
        if finished and scope > 0 and not replan:
            # the old plan is complete but rows without an event remain (written since, or a
            # re-run after the cutoff moved): a new plan covers them
            log.info("the existing plan is complete but %s rows still have no event: planning again", scope)
            replan = True
        if existing and started and not replan:
            return _reuse_plan(conn, cfg, existing, scope, done_before, target_rows, now, dry_run)
        if existing and replan and not dry_run:
            _refuse_replan_while_copying(conn, chunks_t)
        ktype, est, chunks = compute_chunks(conn, cfg, target_rows)
        result = Plan(
            ktype,
            tuple(chunks),
            est,
            scope,
            0,
            target_rows,
            reused=False,
            written=not dry_run,
            planned_at=now,
        )
        if dry_run:
            return result
        _write_plan(conn, cfg, chunks_t, result)
    log.info(
        "planned %s chunks over %s keys (about %s rows, %s still to copy)", len(chunks), ktype, est, scope
    )
    return result


def _reuse_plan(
    conn: psycopg.Connection,
    cfg: MigrationConfig,
    existing: list[dict[str, Any]],
    scope: int,
    done_before: int,
    target_rows: int,
    now: str,
    dry_run: bool,
) -> Plan:
    """The existing plan, its failed chunks back to pending (unless ``dry_run``)."""
    chunks_t = state_table(cfg, "backfill_chunks")
    ktype = source_key_type(conn, cfg)
    result = Plan(
        ktype,
        tuple(Chunk(c["lo"], c["hi"]) for c in existing),
        estimated_rows(conn, cfg),
        scope,
        done_before,
        target_rows,
        reused=True,
        written=False,
        planned_at=now,
    )
    if not dry_run:
        n = conn.execute(
            sql.SQL("UPDATE {} SET status = 'pending' WHERE status = 'failed'").format(chunks_t)
        ).rowcount
        if n:
            log.info("reusing the existing plan: %s failed chunk(s) back to pending", n)
        _save_plan_setting(conn, cfg, result)
    log.info(
        "reusing the existing chunk plan (%s chunks, %s done)",
        len(existing),
        sum(1 for c in existing if c["status"] == "done"),
    )
    return result


def _refuse_replan_while_copying(conn: psycopg.Connection, chunks_t: sql.Identifier) -> None:
    """Raise when a live worker is copying a chunk of the plan about to be replaced."""
    running = scalar(conn, sql.SQL("SELECT count(*) FROM {} WHERE status = 'running'").format(chunks_t))
    unlocked = scalar(conn, load_sql("p4_backfill/12_count_unlocked_running_chunks.sql", chunks=chunks_t))
    if running - unlocked > 0:
        raise MigrationError(
            f"replan refused: {running - unlocked} chunk(s) are being copied right now by "
            "live workers; stop them (or wait) and try again"
        )


def _write_plan(conn: psycopg.Connection, cfg: MigrationConfig, chunks_t: sql.Identifier, p: Plan) -> None:
    """Replace the chunk ledger's rows with the plan's chunks and record the plan's summary."""
    conn.execute(sql.SQL("DELETE FROM {}").format(chunks_t))
    insert = load_sql("p4_backfill/06_insert_chunk.sql", state=cfg.state_schema)
    with conn.cursor() as cur:
        cur.executemany(insert, [{"lo": c.lo, "hi": c.hi} for c in p.chunks])
    _save_plan_setting(conn, cfg, p)


def _save_plan_setting(conn: psycopg.Connection, cfg: MigrationConfig, p: Plan) -> None:
    value = p.summary()
    value.pop("first_chunks", None)
    ledger.set_setting(conn, PLAN_SETTING, value, by="backfill planner", cfg=cfg)
