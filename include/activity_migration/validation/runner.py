"""Run the validation suites: Postgres collects, Great Expectations judges, results recorded.

``run_suites`` is the one entry point (CLI, gates, nightly DAG, benchmark):

1. create/refresh the helper views (``include/sql/validation``) and take a session advisory
   lock, so two validation runs never overwrite each other's findings;
2. choose the scope: ``full``, or ``incremental`` (rows since the last successful check's
   ``checked_upto`` minus an overlap, plus one sampled key range, plus whole-table counts);
3. parity: Postgres computes the differences once and stores findings (``parity.collect``);
4. GX (ephemeral context, suites from ``expectations/``) validates each suite's table asset
   (a view or table: pushdown, no query assets), builds Data Docs to a local folder and we
   make the pages readable offline;
5. one row per suite goes into ``<state>.validation_results`` (the gates read it).

``great_expectations`` is imported lazily inside the functions (it costs 4-6 s).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from .. import ledger
from ..catalog import source_key_type
from ..config import MigrationConfig, load_config
from ..db import connect, load_sql, redact, scalar
from ..errors import PreflightError
from ..ledger import RunContext
from . import datadocs, parity
from .gx_session import EXAMPLES, gx_validate, parse_result, sqlalchemy_url
from .outcomes import ExpectationOutcome, SuiteOutcome, ValidationOutcome
from .scope_choice import (
    DEFAULT_OVERLAP,
    DEFAULT_SAMPLE_MIN_ROWS,
    DEFAULT_SAMPLE_RANGES,
    DEFAULT_SAMPLE_RATIO,
    FULL_CHECK_BELOW_ROWS,
    ValidationSource,
    choose_scope,
    last_checked_upto,
    validation_source,
)
from .suites import check_suite_names

__all__ = [
    "DEFAULT_OVERLAP",
    "DEFAULT_SAMPLE_MIN_ROWS",
    "DEFAULT_SAMPLE_RANGES",
    "DEFAULT_SAMPLE_RATIO",
    "EXAMPLES",
    "FULL_CHECK_BELOW_ROWS",
    "LOCK_KEY",
    "ExpectationOutcome",
    "SuiteOutcome",
    "ValidationOutcome",
    "ValidationSource",
    "choose_scope",
    "last_checked_upto",
    "run_suites",
    "sqlalchemy_url",
    "validation_source",
]

log = logging.getLogger(__name__)

LOCK_KEY = "activity_migration.validation"


def _expectation_parameters(conn: psycopg.Connection, cfg: MigrationConfig) -> dict[str, Any]:
    now = scalar(conn, "SELECT now()")
    max_future = scalar(conn, "SELECT now() + CAST(%s AS interval)", (cfg.rules.occurred_at_max_future,))
    return {
        "categories": sorted(set(cfg.categories.values())),
        "event_type_pattern": cfg.rules.event_type_pattern,
        "occurred_at_min": dt.datetime.fromisoformat(cfg.rules.occurred_at_min.replace("Z", "+00:00")),
        "occurred_at_max": max_future,
        "_now": now,
    }


def _record(
    conn: psycopg.Connection,
    cfg: MigrationConfig,
    outcome: SuiteOutcome,
    scope: str,
    ctx: RunContext,
    checked_upto: dt.datetime | None,
    docs_page: str | None,
) -> int:
    q = load_sql(
        "validation/22_record_validation_result.sql",
        results=sql.Identifier(cfg.state_schema, "validation_results"),
    )
    failures = [asdict(r) for r in outcome.failed]
    return int(
        scalar(
            conn,
            q,
            (
                outcome.name,
                scope,
                outcome.success,
                Jsonb(outcome.statistics),
                Jsonb(failures),
                docs_page,
                ctx.environment,
                ledger.project_version(),
                ctx.dag_run_id,
                checked_upto,
            ),
        )
    )


@dataclass
class _LockedRun:
    """What happened under the validation lock: the scope, the parity statistics, GX's results."""

    chosen: parity.Scope
    checked_upto: dt.datetime
    statistics: dict[str, dict[str, Any]]
    gx_results: dict[str, tuple[Any, str | None]]
    gx_seconds: float
    docs_since: float


def _suites_to_run(
    conn: psycopg.Connection, dsn: str, cfg: MigrationConfig, source: ValidationSource, names: list[str]
) -> list[str]:
    """The suites this database allows: refused when events or the state schema are missing;
    without legacy rows to compare, parity is skipped (events integrity at least)."""
    live = parity.systems_live(conn, cfg)
    missing = [k for k in ("target", "state") if not live[k]]
    if missing:
        what = {"target": cfg.target, "state": f"schema {cfg.state_schema}"}
        raise PreflightError(
            "cannot validate: "
            + ", ".join(f"{what[m]} does not exist" for m in missing)
            + f" (database {redact(dsn)})"
        )
    if source.cfg is None:
        if "parity" in names:
            log.warning("parity skipped: %s", source.note)
        names = [n for n in names if n != "parity"] or ["events_integrity"]
    return names


def _collect_parity(
    conn: psycopg.Connection,
    dsn: str,
    scfg: MigrationConfig,
    chosen: parity.Scope,
    names: list[str],
    note: str,
) -> dict[str, dict[str, Any]]:
    """Per suite statistics, with the parity collection's when parity runs."""
    statistics: dict[str, dict[str, Any]] = {n: {"compared_with": note} for n in names}
    if "parity" in names:
        collected = parity.collect(conn, scfg, chosen, dsn=dsn)
        statistics["parity"].update(collected.statistics)
        if collected.entity_type_counts:
            statistics["parity"]["entity_type_counts"] = collected.entity_type_counts
    return statistics


def _validate_locked(
    conn: psycopg.Connection,
    dsn: str,
    cfg: MigrationConfig,
    source: ValidationSource,
    names: list[str],
    requested: str,
    ctx: RunContext,
    docs_dir: Path,
    scope_options: dict[str, Any],
) -> _LockedRun:
    """Choose the scope, collect parity and run GX under the session advisory lock, so two
    validation runs never overwrite each other's findings."""
    scfg = source.cfg or cfg
    conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (LOCK_KEY,))
    try:
        ktype = source_key_type(conn, scfg) if source.cfg is not None else None
        chosen = choose_scope(
            conn,
            scfg,
            requested if source.live else "full",
            names,
            ctx.environment,
            ktype=ktype,
            **scope_options,
        )
        if not source.live:
            chosen.reason = source.note
        checked_upto = scalar(conn, "SELECT now()")
        statistics = _collect_parity(conn, dsn, scfg, chosen, names, source.note)
        conn.execute(
            sql.SQL("UPDATE {} SET since = %s").format(sql.Identifier(cfg.state_schema, "validation_scope")),
            (
                chosen.since
                if chosen.name == "incremental"
                else dt.datetime.min.replace(tzinfo=dt.timezone.utc),
            ),
        )
        parameters = _expectation_parameters(conn, cfg)
        run_name = f"{ctx.environment}-{chosen.name}"
        t_gx = time.perf_counter()
        docs_since = time.time() - 1.0
        gx_results = gx_validate(dsn, cfg, names, chosen.name, docs_dir, run_name, parameters)
        gx_seconds = round(time.perf_counter() - t_gx, 3)
    finally:
        conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (LOCK_KEY,))
    return _LockedRun(chosen, checked_upto, statistics, gx_results, gx_seconds, docs_since)


def _suite_outcome(
    conn: psycopg.Connection, cfg: MigrationConfig, name: str, run: _LockedRun, ctx: RunContext, record: bool
) -> SuiteOutcome:
    """One suite's verdict from GX's result and the run's statistics; recorded unless ``record`` is off."""
    vr, page = run.gx_results[name]
    results = [parse_result(name, r) for r in vr.results]
    st = dict(vr.statistics)
    st.update(run.statistics[name])
    st.update({"scope": run.chosen.name, "scope_reason": run.chosen.reason, "gx_seconds": run.gx_seconds})
    if name != "parity" and run.chosen.since:
        st["since"] = run.chosen.since.isoformat()
    so = SuiteOutcome(
        name=name, success=bool(vr.success), statistics=st, results=results, data_docs_page=page
    )
    if record:
        so.result_id = _record(conn, cfg, so, run.chosen.name, ctx, run.checked_upto, page)
    return so


def _ensure_parity_objects(
    conn: psycopg.Connection, dsn: str, source: ValidationSource, ensure_indexes: bool
) -> None:
    """The helper views of the compared source, and its created_at indexes when it is live."""
    if source.cfg is not None:
        # the archive never grows: no created_at index on it (it would come back with the
        # table on a rollback), every row checked
        parity.ensure_validation_objects(conn, source.cfg, indexes=ensure_indexes and source.live, dsn=dsn)


def _validation_outcome(
    conn: psycopg.Connection,
    cfg: MigrationConfig,
    names: list[str],
    run: _LockedRun,
    ctx: RunContext,
    record: bool,
    docs_dir: Path,
    t_start: float,
) -> ValidationOutcome:
    """Every suite's verdict (recorded unless ``record`` is off) and the run's overall outcome."""
    outcomes = {name: _suite_outcome(conn, cfg, name, run, ctx, record) for name in names}
    total = round(time.perf_counter() - t_start, 3)
    return ValidationOutcome(
        success=all(s.success for s in outcomes.values()),
        scope=run.chosen.name,
        environment=ctx.environment,
        suites=outcomes,
        statistics={"seconds": total, "gx_seconds": run.gx_seconds, **run.chosen.describe()},
        data_docs_path=str(docs_dir / "index.html"),
        checked_upto=run.checked_upto,
    )


# --------------------------------------------------------------------------- entry point
def run_suites(
    dsn: str,
    suites: list[str] | tuple[str, ...] | None = ("parity",),
    scope: str = "full",
    ctx: RunContext | None = None,
    data_docs_dir: str | Path | None = None,
    *,
    cfg: MigrationConfig | None = None,
    sample_ranges: int = DEFAULT_SAMPLE_RANGES,
    run_date: dt.date | None = None,
    overlap: dt.timedelta = DEFAULT_OVERLAP,
    record: bool = True,
    ensure_indexes: bool = True,
    sample_ratio: float = DEFAULT_SAMPLE_RATIO,
    sample_min_rows: int = DEFAULT_SAMPLE_MIN_ROWS,
    full_check_below_rows: int = FULL_CHECK_BELOW_ROWS,
) -> ValidationOutcome:
    """Run ``suites`` against the database at ``dsn`` and record one result row per suite.

    :param suites: names from ``expectations/`` (``parity``, ``events_integrity``, ``quarantine``)
    :param scope: ``full`` or ``incremental`` (falls back to full when no earlier successful check exists)
    :param ctx: environment / dag_run_id recorded with the results
    :param data_docs_dir: where Data Docs go (default ``artifacts/data_docs/<environment>/``)
    :param sample_ranges: incremental scope: the key space is cut into at least this many ranges
        (more when one range would hold more rows than the sample budget) and one, chosen from
        ``run_date``, is re-checked up to the budget; 0 = no sampling
    :param sample_ratio: the sample budget is ``sample_ratio`` x the new source rows ...
    :param sample_min_rows: ... but at least this many rows (small tables: the whole range)
    :param full_check_below_rows: an incremental run over a source of at most this many rows
        checks every row (a rolling sample of a small table finds a changed row late)
    :raises PreflightError: the state schema, source or target table is missing
    """
    cfg = cfg or load_config()
    ctx = ctx or RunContext()
    names = check_suite_names(suites)
    docs_dir = Path(data_docs_dir) if data_docs_dir else datadocs.default_dir(ctx.environment)
    docs_dir.mkdir(parents=True, exist_ok=True)
    scope_options = {
        "sample_ranges": sample_ranges,
        "run_date": run_date or dt.date.today(),
        "overlap": overlap,
        "sample_ratio": sample_ratio,
        "sample_min_rows": sample_min_rows,
        "full_check_below_rows": full_check_below_rows,
    }
    t_start = time.perf_counter()
    conn = connect(dsn, autocommit=True)
    try:
        source = validation_source(conn, cfg)
        names = _suites_to_run(conn, dsn, cfg, source, names)
        _ensure_parity_objects(conn, dsn, source, ensure_indexes)
        run = _validate_locked(conn, dsn, cfg, source, names, scope, ctx, docs_dir, scope_options)
        datadocs.make_offline(docs_dir, since=run.docs_since)
        return _validation_outcome(conn, cfg, names, run, ctx, record, docs_dir, t_start)
    finally:
        conn.close()
