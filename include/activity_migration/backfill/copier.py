"""The chunk copier: a worker loop that claims chunks until none remain.

One worker = one connection. Per chunk:

1. the throttle decides (may pause, shrink, or abort before anything is claimed);
2. claim: one short transaction marks the lowest pending chunk (or a stale one whose worker
   died) ``running`` for this worker (``FOR UPDATE SKIP LOCKED``, attempts + 1);
3. copy: ONE transaction locks the claimed chunk row, cuts the range when it holds more rows
   than the adaptive chunk size (the remainder becomes a new pending chunk), runs the
   set-based ``INSERT … SELECT`` of the mapping (bad rows to the quarantine, good rows to
   events, ``ON CONFLICT DO NOTHING``) and marks the chunk ``done`` with its counts.

A kill at any moment leaves either nothing or everything of a chunk. Python moves no rows.
Chunk sizes adapt to ``chunk_target_seconds``: grow when a chunk was fast, shrink when slow
or throttled.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

import psycopg
from psycopg import sql

from ..catalog import source_columns, source_key_type
from ..config import MigrationConfig
from ..db import APPLICATION_NAME, connect, fetch_one, fetch_row, load_sql, scalar
from ..errors import MigrationError
from ..mapping import event_field_exprs
from . import progress
from .controller import Decision, active_workers
from .options import BackfillParams
from .planner import events_ident, source_ident
from .throttle import Throttle, ThrottleAbort, Verdict

# A worker the latency controller holds back sleeps this long, then asks the controller again.
PARK_S = 1.0

log = logging.getLogger(__name__)


def worker_application_name(worker_id: str) -> str:
    """application_name of a worker's session (pg_stat_activity): ``activity-migration backfill <id>``."""
    return f"{APPLICATION_NAME} backfill {worker_id}"[:63]


@dataclass
class WorkerReport:
    worker_id: str
    chunks_done: int = 0
    chunks_split: int = 0
    chunks_failed: list[int] = field(default_factory=list)
    rows_copied: int = 0
    rows_quarantined: int = 0
    throttle_pauses: int = 0
    throttled_s: float = 0.0
    yielded_s: float = 0.0
    parked_s: float = 0.0
    elapsed_s: float = 0.0
    final_chunk_rows: int = 0
    max_app_latency_ratio: float | None = None
    last_yield_ratio: float | None = None
    stopped: str = "finished"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class ChunkSizer:
    """AIMD-like chunk size: grow by a quarter when a chunk took under 70 % of the target,
    shrink proportionally when it took over 130 %, halve when throttled."""

    def __init__(self, rows: int, target_s: float, min_rows: int, max_rows: int) -> None:
        self.rows = rows
        self.target_s = target_s
        self.min_rows = min_rows
        self.max_rows = max_rows

    def observe(self, rows_seen: int, elapsed_s: float) -> None:
        if rows_seen < self.rows // 2:  # a small remainder says little about speed
            return
        if elapsed_s < 0.7 * self.target_s:
            self.rows = int(self.rows * 1.25)
        elif elapsed_s > 1.3 * self.target_s:
            self.rows = int(self.rows * max(0.25, 0.9 * self.target_s / elapsed_s))
        self.rows = max(self.min_rows, min(self.max_rows, self.rows))

    def shrink(self) -> None:
        self.rows = max(self.min_rows, self.rows // 2)


class Statements:
    """The worker's SQL, built once from config: identifiers quoted, values bound."""

    def __init__(self, conn: psycopg.Connection, cfg: MigrationConfig) -> None:
        self.key_type = source_key_type(conn, cfg)
        ktype = sql.SQL(self.key_type)
        key = sql.Identifier(cfg.source.key)
        lower = sql.SQL("(%(lo)s::text IS NULL OR s.{k} >= %(lo)s::text::{t})").format(k=key, t=ktype)
        upper = sql.SQL("(%(hi)s::text IS NULL OR s.{k} < %(hi)s::text::{t})").format(k=key, t=ktype)
        rng = sql.SQL("{} AND {}").format(lower, upper)
        cols = event_field_exprs(cfg, "s", source_columns(conn, cfg))
        common = {
            "state": cfg.state_schema,
            "source": source_ident(cfg),
            "key": cfg.source.key,
            "events": events_ident(cfg),
            "range": rng,
        }
        self.claim = load_sql("p4_backfill/01_claim_chunk.sql", state=cfg.state_schema)
        self.lock = load_sql("p4_backfill/02_lock_claimed_chunk.sql", state=cfg.state_schema)
        self.split = load_sql(
            "p4_backfill/03_find_split_key.sql", source=common["source"], key=cfg.source.key, range=rng
        )
        self.copy = load_sql("p4_backfill/04_copy_range.sql", **common, **cols)
        self.finish = load_sql("p4_backfill/05_finish_chunk.sql", state=cfg.state_schema)
        self.insert_chunk = load_sql("p4_backfill/06_insert_chunk.sql", state=cfg.state_schema)
        chunks = sql.Identifier(cfg.state_schema, "backfill_chunks")
        self.release = load_sql("p4_backfill/14_release_chunk.sql", chunks=chunks)
        self.orphans = load_sql("p4_backfill/13_count_open_chunks.sql", chunks=chunks)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def run_worker(
    dsn: str,
    cfg: MigrationConfig,
    worker_id: str,
    params: BackfillParams,
    stop_event: threading.Event | None = None,
) -> WorkerReport:
    """Claim and copy chunks until none remain; return what this worker did.

    Raises ``ThrottleAbort`` on a critical load signal, ``MigrationError`` when its connection
    is lost (the chunk it held is taken over after ``lease_seconds``) or when a chunk failed
    with a data error (that chunk is marked ``failed``; the others are still copied).
    """
    claimant = f"{worker_id}@{socket.gethostname()}:{os.getpid()}"
    report = WorkerReport(worker_id=str(worker_id))
    sizer = ChunkSizer(
        params.initial_chunk_rows,
        params.throttle.chunk_target_seconds,
        params.min_chunk_rows,
        params.max_chunk_rows,
    )
    started = time.monotonic()
    conn = connect(dsn, autocommit=True, application_name=worker_application_name(str(worker_id)))
    try:
        _claim_and_copy(conn, cfg, claimant, sizer, report, params, stop_event, dsn)
    except ThrottleAbort:
        report.stopped = "throttle abort"
        raise
    except psycopg.OperationalError as exc:
        report.stopped = "connection lost"
        raise MigrationError(
            f"backfill worker {worker_id} lost its database connection ({_first_line(exc)}); "
            f"its chunk is taken over after the lease ({params.lease_seconds:g} s) on the next run"
        ) from None
    finally:
        report.elapsed_s = round(time.monotonic() - started, 3)
        report.final_chunk_rows = sizer.rows
        if not conn.closed:
            conn.close()
    log.info("worker %s finished: %s", worker_id, report.as_dict())
    if report.chunks_failed:
        raise MigrationError(
            f"backfill worker {worker_id}: chunk(s) {report.chunks_failed} failed (see "
            f"{cfg.state_schema}.backfill_chunks.last_error); the rest was copied. Fix the cause "
            "and re-run: failed chunks go back to pending."
        )
    return report


def _claim_and_copy(
    conn: psycopg.Connection,
    cfg: MigrationConfig,
    claimant: str,
    sizer: ChunkSizer,
    report: WorkerReport,
    params: BackfillParams,
    stop_event: threading.Event | None,
    dsn: str | None = None,
) -> None:
    """The worker loop: wait for the throttle, claim a chunk, copy it, yield; until no chunk is left."""
    stmts = Statements(conn, cfg)
    throttle = Throttle(cfg, params.throttle, claimant, dsn=dsn)
    try:
        _copy_until_done(_Worker(conn, cfg, stmts, claimant, sizer, report), throttle, params, stop_event)
    finally:
        throttle.close()


def _copy_until_done(
    worker: _Worker, throttle: Throttle, params: BackfillParams, stop_event: threading.Event | None
) -> None:
    conn, _, stmts, claimant, sizer, report = worker
    while True:
        if stop_event is not None and stop_event.is_set():
            report.stopped = "stop requested"
            return
        verdict = _wait_for_go(conn, throttle, sizer, report)
        if _parked(verdict, report, params.max_parallel_chunks):
            if _no_chunk_left(conn, stmts):
                return
            _yield_cores(PARK_S, report, stop_event, parked=True)
            continue
        with conn.transaction():
            claimed = fetch_one(conn, stmts.claim, {"worker": claimant, "lease_s": params.lease_seconds})
        if claimed is None:
            if _no_chunk_left(conn, stmts):
                return  # every chunk is done, failed, or being copied by a live worker
            # a chunk of a dead worker (or one just claimed): wait for its lease, then take it
            time.sleep(min(1.0, params.lease_seconds / 2))
            continue
        elapsed = _copy_chunk(worker, claimed, verdict.decision)
        # Yield: leave the cores to the application for a while after each chunk (duty cycle,
        # set by the latency controller or the fixed yield_ratio).
        report.last_yield_ratio = round(verdict.yield_ratio, 3)
        _yield_cores(verdict.yield_ratio * (elapsed or 0.0), report, stop_event)


def _wait_for_go(
    conn: psycopg.Connection, throttle: Throttle, sizer: ChunkSizer, report: WorkerReport
) -> Verdict:
    """Wait until the throttle lets the worker go; a throttled wait shrinks the chunk size."""
    verdict = throttle.wait_for_go(conn)
    sizer.target_s = verdict.settings.chunk_target_seconds
    ratio = verdict.peak_ratio
    if ratio is not None:
        report.max_app_latency_ratio = round(max(ratio, report.max_app_latency_ratio or 0.0), 3)
    if verdict.pauses and verdict.shrink:
        report.throttle_pauses += verdict.pauses
        report.throttled_s += verdict.paused_s
        sizer.shrink()
    return verdict


def _no_chunk_left(conn: psycopg.Connection, stmts: Statements) -> bool:
    """True when no pending or running chunk is free to take (one short transaction)."""
    with conn.transaction():
        return int(scalar(conn, stmts.orphans)) == 0


def _parked(verdict: Verdict, report: WorkerReport, workers: int) -> bool:
    """Is this worker one the latency controller holds back (``controller.active_workers``)?
    Only under the controller: a fixed yield_ratio keeps every worker copying."""
    decision = verdict.decision
    if decision is None or decision.action in ("off", "pinned") or workers <= 1:
        return False
    digits = re.search(r"(\d+)$", report.worker_id)
    rank = int(digits.group(1)) if digits else 0
    return rank >= active_workers(verdict.yield_ratio, workers)


def _yield_cores(
    pause: float, report: WorkerReport, stop_event: threading.Event | None, parked: bool = False
) -> None:
    """Sleep ``pause`` seconds (woken early by a stop request)."""
    if pause <= 0:
        return
    if parked:
        report.parked_s += pause
    else:
        report.yielded_s += pause
    if stop_event is not None:
        stop_event.wait(pause)
    else:
        time.sleep(pause)


class _Worker(NamedTuple):
    """What every chunk of one worker uses: its connection, statements, name, sizer and report."""

    conn: psycopg.Connection
    cfg: MigrationConfig
    stmts: Statements
    claimant: str
    sizer: ChunkSizer
    report: WorkerReport


def _copy_chunk(w: _Worker, claimed: dict[str, Any], decision: Decision | None) -> float | None:
    """Copy one claimed chunk; returns its duration in seconds (None when nothing was copied)."""
    conn, cfg, stmts, claimant, sizer, report = w
    chunk_id, lo, hi = claimed["chunk_id"], claimed["lo"], claimed["hi"]
    t0 = time.monotonic()
    try:
        copied = _copy_in_one_transaction(w, claimed, decision)
    except psycopg.errors.QueryCanceled as exc:
        # statement_timeout or lock_timeout: give the chunk back, smaller next time
        sizer.shrink()
        _release_chunk(conn, stmts, claimant, chunk_id, "pending", _first_line(exc)[:500])
        log.warning(
            "chunk %s gave up (%s); released, chunk size now %s rows", chunk_id, _first_line(exc), sizer.rows
        )
        return None
    except psycopg.OperationalError:
        raise
    except psycopg.Error as exc:
        if conn.closed or conn.broken:
            raise
        _release_chunk(conn, stmts, claimant, chunk_id, "failed", _first_line(exc)[:2000])
        report.chunks_failed.append(int(chunk_id))
        log.error("chunk %s [%s, %s) failed: %s", chunk_id, lo, hi, _first_line(exc))
        return None
    if copied is None:
        return None
    elapsed = time.monotonic() - t0
    _account_chunk(conn, cfg, chunk_id, lo, copied, elapsed, sizer, report, decision)
    return elapsed


class _CopiedRange(NamedTuple):
    """What one chunk transaction did: the range's (possibly cut) upper bound and its counts."""

    hi: Any
    rows_seen: int
    copied: int
    quarantined: int


def _copy_in_one_transaction(
    w: _Worker, claimed: dict[str, Any], decision: Decision | None
) -> _CopiedRange | None:
    """In ONE transaction: lock the claimed chunk, cut its range when too big, copy it, mark it done.

    None when another worker took the chunk over.
    """
    conn, cfg, stmts, claimant, sizer, report = w
    chunk_id, lo, hi = claimed["chunk_id"], claimed["lo"], claimed["hi"]
    timeout_ms = int(max(60.0, 30 * sizer.target_s) * 1000)
    with conn.transaction():
        conn.execute(
            sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(f"{cfg.safety.lock_timeout_ms}ms"))
        )
        conn.execute(sql.SQL("SET LOCAL statement_timeout = {}").format(sql.Literal(f"{timeout_ms}ms")))
        if fetch_one(conn, stmts.lock, {"chunk_id": chunk_id, "worker": claimant}) is None:
            log.info("chunk %s was taken over by another worker; skipping it", chunk_id)
            return None
        new_hi, rows_seen = _cut_range(conn, stmts, lo, hi, sizer, report)
        counts = fetch_row(conn, stmts.copy, {"lo": lo, "hi": new_hi, "chunk_id": chunk_id})
        copied, quarantined = int(counts["rows_copied"]), int(counts["rows_quarantined"])
        conn.execute(
            stmts.finish,
            {
                "chunk_id": chunk_id,
                "rows_copied": copied,
                "rows_quarantined": quarantined,
                "hi": new_hi,
                **(decision or Decision("off", 0.0)).columns(),
            },
        )
    return _CopiedRange(new_hi, rows_seen, copied, quarantined)


def _cut_range(
    conn: psycopg.Connection, stmts: Statements, lo: Any, hi: Any, sizer: ChunkSizer, report: WorkerReport
) -> tuple[Any, int]:
    """The range's upper bound and rows seen; a range too big is cut, its remainder a new pending chunk."""
    # keyset probe: does the range hold more than 1.5x the chunk size? then cut it at the chunk size
    probe = fetch_one(
        conn, stmts.split, {"lo": lo, "hi": hi, "limit_rows_plus_one": int(sizer.rows * 1.5) + 1}
    )
    rows_seen = 0 if probe is None else int(probe["rows_seen"])
    if rows_seen <= sizer.rows * 1.5:
        return hi, rows_seen
    cut = fetch_row(conn, stmts.split, {"lo": lo, "hi": hi, "limit_rows_plus_one": sizer.rows + 1})
    new_hi = cut["split_key"]
    conn.execute(stmts.insert_chunk, {"lo": new_hi, "hi": hi})
    report.chunks_split += 1
    return new_hi, sizer.rows


def _release_chunk(
    conn: psycopg.Connection, stmts: Statements, claimant: str, chunk_id: Any, status: str, error: str
) -> None:
    """Give the chunk back as ``status`` (pending or failed) with its error (one short transaction)."""
    with conn.transaction():
        conn.execute(
            stmts.release,
            {"status": status, "error": error, "chunk_id": chunk_id, "worker": claimant},
        )


def _account_chunk(
    conn: psycopg.Connection,
    cfg: MigrationConfig,
    chunk_id: Any,
    lo: Any,
    done: _CopiedRange,
    elapsed: float,
    sizer: ChunkSizer,
    report: WorkerReport,
    decision: Decision | None,
) -> None:
    """Adapt the chunk size to the chunk's speed, count it in the report and log the progress."""
    sizer.observe(done.rows_seen, elapsed)
    report.chunks_done += 1
    report.rows_copied += done.copied
    report.rows_quarantined += done.quarantined
    p = progress.snapshot(conn, cfg)
    log.info(
        "chunk %s [%s, %s): %s copied, %s quarantined in %.2f s | %s | before it: %s | next chunk %s rows",
        chunk_id,
        lo or "-inf",
        done.hi or "+inf",
        done.copied,
        done.quarantined,
        elapsed,
        progress.describe(p, with_latency=False),
        decision.describe() if decision is not None else "controller n/a",
        sizer.rows,
    )
