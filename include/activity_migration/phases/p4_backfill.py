"""Phase 4: copy the history of the legacy activity log into events, chunked and resumable.

The sequence (as the DAG and ``activity-migration backfill`` run it):

1. ``preflight``   — the state schema, the mapping rules and the events table exist; phase 2
   recorded a cutoff (unless ``allow_without_cutoff``);
2. ``plan``        — key ranges in ``{state}.backfill_chunks`` (reused when a plan exists);
3. ``run_workers`` — N workers claim and copy chunks (``backfill.copier.run_worker``);
4. ``check_zero_loss`` (``verify``) — every source row before the cutoff, and every row without
   an event, is in events exactly once or in the quarantine; raises with the counts otherwise;
5. ``report``      — quarantine by reason and chunk statistics (pandas);
6. ``build_indexes`` — the indexes the plan step deferred (the full-text GIN, dropped
   CONCURRENTLY before the copy) are built CONCURRENTLY (backfill/deferred_indexes.py).

``rollback`` removes what the backfill wrote (events with source 'backfill', the quarantine
rows it added, the chunk plan), chunk by chunk, in short transactions.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import psycopg
from psycopg import sql

from .. import ledger
from ..backfill import controller, copier, deferred_indexes, planner, progress
from ..backfill.options import BackfillParams
from ..catalog import source_key_type
from ..config import MigrationConfig, load_config
from ..db import connection, fetch_all, fetch_row, load_sql, scalar
from ..errors import MigrationError, PreflightError

log = logging.getLogger(__name__)

PHASE = "p4_backfill"
CUTOFF_SETTING = "cutoff"


def get_cutoff(conn: psycopg.Connection, cfg: MigrationConfig) -> dict[str, Any] | None:
    value = ledger.get_setting(conn, CUTOFF_SETTING, None, cfg=cfg)
    return value if isinstance(value, dict) and value.get("cutoff_at") else None


def preflight(conn: psycopg.Connection, cfg: MigrationConfig, params: BackfillParams) -> dict[str, Any]:
    """Check the backfill may start; return what it found (cutoff, key type, rules)."""
    if not ledger.state_schema_exists(conn, cfg):
        raise PreflightError(
            f"state schema {cfg.state_schema} does not exist: run phase 1 (migration_p1_infrastructure)"
        )
    for table in ("backfill_chunks", "quarantine", "entity_categories", "mapping_rules"):
        if not scalar(conn, "SELECT to_regclass(%s)", (f"{cfg.state_schema}.{table}",)):
            raise PreflightError(
                f"{cfg.state_schema}.{table} is missing: run phase 1 (migration_p1_infrastructure)"
            )
    if not scalar(
        conn, "SELECT to_regclass(%s)", (sql.Identifier(cfg.target_schema, cfg.target_table).as_string(conn),)
    ):
        raise PreflightError(
            f"target table {cfg.target} is missing: run phase 1 (migration_p1_infrastructure)"
        )
    if not scalar(
        conn, sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(cfg.state_schema, "mapping_rules"))
    ):
        raise PreflightError(
            f"{cfg.state_schema}.mapping_rules is empty: run phase 1 (it writes the rules from config)"
        )
    categories = scalar(
        conn, sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(cfg.state_schema, "entity_categories"))
    )
    if not categories:
        raise PreflightError(
            f"{cfg.state_schema}.entity_categories is empty: every row would be quarantined; "
            "run phase 1 (it writes the categories from config)"
        )
    cutoff = get_cutoff(conn, cfg)
    if cutoff is None and not params.allow_without_cutoff:
        raise PreflightError(
            "no backfill cutoff recorded (setting 'cutoff'): phase 2 (migration_p2_dual_write) must "
            "switch to dual write first, so that rows after the cutoff already have events. "
            "(allow_without_cutoff=true overrides this for tests and demos.)"
        )
    return {"cutoff": cutoff, "key_type": source_key_type(conn, cfg), "categories": int(categories)}


def plan(
    dsn: str, cfg: MigrationConfig, params: BackfillParams, ctx: ledger.RunContext | None = None
) -> planner.Plan:
    """Preflight, then plan (or reuse the plan); dry_run computes and logs it, writing nothing."""
    with connection(dsn, autocommit=True) as conn:
        found = preflight(conn, cfg, params)
        p = planner.plan(
            conn, cfg, target_rows=params.initial_chunk_rows, replan=params.replan, dry_run=params.dry_run
        )
        summary = p.summary()
        log.info("backfill plan%s: %s", " (dry run, not written)" if params.dry_run else "", summary)
        if params.dry_run:
            for i, c in enumerate(p.chunks[:20]):
                log.info("  chunk %s: [%s, %s)", i + 1, c.lo or "-inf", c.hi or "+inf")
            if len(p.chunks) > 20:
                log.info("  ... %s more chunks", len(p.chunks) - 20)
        else:
            deferred = deferred_indexes.defer(dsn, cfg) if params.defer_search_index else {}
            baseline = _latency_baseline(conn, cfg, params)
            ledger.record(
                conn,
                PHASE,
                "plan",
                "succeeded",
                ctx,
                {
                    **summary,
                    "cutoff": found["cutoff"],
                    "latency_baseline": baseline,
                    "deferred_indexes": sorted(deferred),
                },
                cfg=cfg,
            )
    return p


def _latency_baseline(
    conn: psycopg.Connection, cfg: MigrationConfig, params: BackfillParams
) -> dict[str, Any] | None:
    """The app's idle write p95, measured now (just before the copy) for the latency controller."""
    if params.throttle.max_app_p95_ratio is None:
        return None
    baseline = controller.measure_baseline(conn, cfg)
    controller.record_baseline(conn, cfg, baseline)
    log.info(
        "app write latency baseline (idle, before the copy): p95 %.2f ms from %s (%s samples); "
        "objective p95 <= %gx",
        baseline["p95_ms"],
        baseline["source"],
        baseline["samples"],
        params.throttle.max_app_p95_ratio,
    )
    return baseline


def run_workers(
    dsn: str, cfg: MigrationConfig, params: BackfillParams, workers: int | None = None, prefix: str = "w"
) -> list[copier.WorkerReport]:
    """Run N workers in threads (each with its own connection) until every chunk is done."""
    n = workers or params.max_parallel_chunks
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=n, thread_name_prefix="backfill") as pool:
        futures = [pool.submit(copier.run_worker, dsn, cfg, f"{prefix}{i}", params, stop) for i in range(n)]
        reports, errors = [], []
        for f in futures:
            try:
                reports.append(f.result())
            except Exception as exc:  # noqa: BLE001 - collected, re-raised below
                stop.set()
                errors.append(exc)
    if errors:
        raise errors[0]
    return reports


def check_zero_loss(
    dsn: str, cfg: MigrationConfig, ctx: ledger.RunContext | None = None, params: BackfillParams | None = None
) -> dict[str, Any]:
    """Verify invariant 1 (docs/architecture.md) for the backfill's scope; raise ``MigrationError``
    with the counts when broken."""
    with connection(dsn, autocommit=True) as conn:
        cutoff = get_cutoff(conn, cfg)
        occurred = cfg.source.required_column("occurred_at")
        q = load_sql(
            "p4_backfill/08_check_zero_loss.sql",
            source=planner.source_ident(cfg),
            key=cfg.source.key,
            occurred_at=sql.SQL("s.{}").format(sql.Identifier(occurred)),
            events=planner.events_ident(cfg),
            state=cfg.state_schema,
        )
        counts: dict[str, Any] = {
            k: int(v) for k, v in fetch_row(conn, q, {"cutoff_at": cutoff and cutoff["cutoff_at"]}).items()
        }
        counts["quarantined_by_reason"] = progress.quarantine_by_reason(conn, cfg)
        counts["cutoff_at"] = cutoff and cutoff["cutoff_at"]
        chunk_states = {
            r["status"]: int(r["n"])
            for r in fetch_all(
                conn,
                sql.SQL("SELECT status, count(*) AS n FROM {} GROUP BY status").format(
                    sql.Identifier(cfg.state_schema, "backfill_chunks")
                ),
            )
        }
        counts["chunks"] = chunk_states
        ok = counts["missing"] == 0 and counts["duplicated"] == 0 and counts["in_both"] == 0
        ledger.record(conn, PHASE, "verify", "succeeded" if ok else "failed", ctx, counts, cfg=cfg)
    if not ok:
        raise MigrationError(
            f"zero-loss check failed: of {counts['rows_in_scope']} source rows in scope, {counts['missing']} "
            "are "
            f"neither in events nor in the quarantine, {counts['duplicated']} legacy ids are in events more "
            "than once, "
            f"{counts['in_both']} are in events AND in the quarantine; quarantined by reason "
            f"{counts['quarantined_by_reason']}; chunks {chunk_states}. Re-run the backfill (it resumes; "
            "replan=true re-plans) and check again."
        )
    log.info("zero-loss check passed: %s", counts)
    return counts


class _ReportTable(NamedTuple):
    key: str  # in the report (XCom)
    file: str  # under include/sql/p4_backfill/
    placeholder: str  # the file's placeholder for the state table
    table: str  # the state table it reads
    columns: list[str]
    title: str  # of the log line
    empty: str  # what the log says when the table is empty


_REPORT_TABLES = (
    _ReportTable(
        "quarantine",
        "17_report_quarantine.sql",
        "quarantine",
        "quarantine",
        ["reason", "rows", "first", "last"],
        "quarantine by reason",
        "(empty)",
    ),
    _ReportTable(
        "chunks",
        "18_report_chunks.sql",
        "chunks",
        "backfill_chunks",
        ["status", "chunks", "rows_copied", "rows_quarantined", "attempts", "avg_s", "max_s"],
        "chunks",
        "(no plan)",
    ),
    _ReportTable(
        "controller",
        "23_report_control.sql",
        "chunks",
        "backfill_chunks",
        ["action", "chunks", "mean_p95_ms", "mean_ratio", "max_ratio", "mean_yield"],
        "latency controller by action",
        "(off)",
    ),
)


def report(dsn: str, cfg: MigrationConfig) -> dict[str, Any]:
    """Log quarantine counts by reason and chunk statistics as pandas tables; return them as dicts."""
    import pandas as pd

    with connection(dsn, autocommit=True) as conn:
        frames = [
            pd.DataFrame(
                fetch_all(
                    conn,
                    load_sql(f"p4_backfill/{file}", **{placeholder: sql.Identifier(cfg.state_schema, table)}),
                ),
                columns=columns,
            )
            for _, file, placeholder, table, columns, _, _ in _REPORT_TABLES
        ]
        prog = progress.snapshot(conn, cfg)
    out: dict[str, Any] = {}
    for t, frame in zip(_REPORT_TABLES, frames):
        log.info("%s:\n%s", t.title, frame.to_string(index=False) if len(frame) else t.empty)
        out[t.key] = _xcom_records(frame)
    log.info("%s", progress.describe(prog))
    return {**out, "progress": prog}


def _xcom_records(frame: Any) -> list[dict[str, str | None]]:
    """Rows as text for XCom (JSON): a missing value is None. (pandas 3's ``astype(str)`` keeps
    missing values as NaN, which JSON cannot carry.)"""
    return [
        {str(k): (None if v is None or v != v else str(v)) for k, v in row.items()}
        for row in frame.astype(object).to_dict("records")
    ]


def apply(
    dsn: str,
    cfg: MigrationConfig | None = None,
    ctx: ledger.RunContext | None = None,
    params: BackfillParams | None = None,
    workers: int | None = None,
    check: bool = True,
) -> dict[str, Any]:
    """Plan, copy with N workers, then check zero loss (the whole phase, outside Airflow)."""
    cfg = cfg or load_config()
    params = params or BackfillParams()
    p = plan(dsn, cfg, params, ctx)
    out: dict[str, Any] = {"plan": p.summary()}
    if params.dry_run:
        return out
    reports = run_workers(dsn, cfg, params, workers)
    out["workers"] = [r.as_dict() for r in reports]
    with connection(dsn, autocommit=True) as conn:
        out["latency"] = progress.latency(conn, cfg)
    log.info("latency controller: %s", progress.describe_latency(out["latency"]))
    if check:
        out["check"] = check_zero_loss(dsn, cfg, ctx, params)
    out["indexes"] = build_indexes(dsn, cfg, ctx)
    return out


def build_indexes(dsn: str, cfg: MigrationConfig, ctx: ledger.RunContext | None = None) -> dict[str, Any]:
    """Last step: build the indexes deferred for the copy, CONCURRENTLY (ledger step ``build_indexes``)."""
    out = deferred_indexes.build(dsn, cfg)
    with connection(dsn, autocommit=True) as conn:
        ledger.record(conn, PHASE, "build_indexes", "succeeded", ctx, out, cfg=cfg)
    return out


verify = check_zero_loss


def rollback(
    dsn: str, cfg: MigrationConfig | None = None, ctx: ledger.RunContext | None = None
) -> dict[str, int]:
    """Remove what the backfill wrote: events with source 'backfill', its quarantine rows, the plan.

    Per chunk range, one short transaction each (the unique legacy-id index finds the rows).
    Events written by the dual write (source 'trigger'/'service') are never touched.
    """
    cfg = cfg or load_config()
    removed = {"events": 0, "quarantine": 0, "chunks": 0}
    with connection(dsn, autocommit=True) as conn:
        stmts = copier.Statements(conn, cfg)
        delete = load_sql(
            "p4_backfill/19_delete_backfill_events.sql",
            events=planner.events_ident(cfg),
            key="legacy_activity_log_id",
            key_type=sql.SQL(stmts.key_type),
        )
        chunks = planner.existing_chunks(conn, cfg) or [{"chunk_id": None, "lo": None, "hi": None}]
        for c in chunks:
            with conn.transaction():
                removed["events"] += conn.execute(delete, {"lo": c["lo"], "hi": c["hi"]}).rowcount
        with conn.transaction():
            removed["quarantine"] = conn.execute(
                sql.SQL("DELETE FROM {} WHERE chunk_id IS NOT NULL").format(
                    sql.Identifier(cfg.state_schema, "quarantine")
                )
            ).rowcount
            removed["chunks"] = conn.execute(
                sql.SQL("DELETE FROM {}").format(sql.Identifier(cfg.state_schema, "backfill_chunks"))
            ).rowcount
            conn.execute(
                sql.SQL("DELETE FROM {} WHERE key = %s").format(sql.Identifier(cfg.state_schema, "settings")),
                (planner.PLAN_SETTING,),
            )
    removed["indexes_rebuilt"] = len(deferred_indexes.build(dsn, cfg)["built"])
    with connection(dsn, autocommit=True) as conn:
        ledger.record(conn, PHASE, "rollback", "succeeded", ctx, removed, cfg=cfg)
    return removed
