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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from .. import ledger
from ..config import MigrationConfig, load_config
from ..db import connect, redact, scalar
from ..errors import MigrationError, PreflightError
from ..ledger import RunContext
from . import datadocs, parity
from .suites import EXPECTATIONS_DIR, SUITES, check_suite_names, load_suite

log = logging.getLogger(__name__)

LOCK_KEY = "activity_migration.validation"
DEFAULT_OVERLAP = dt.timedelta(minutes=15)
DEFAULT_SAMPLE_RANGES = 30
# Rolling sample budget: at most this many times the new rows, but at least this many rows.
DEFAULT_SAMPLE_RATIO = 0.5
DEFAULT_SAMPLE_MIN_ROWS = 10_000
# Up to this many legacy rows the incremental scope checks every row (a full parity pass over
# 200k rows takes about a second): a rolling sample of a small table finds a changed row late.
FULL_CHECK_BELOW_ROWS = 200_000
EXAMPLES = 5


@dataclass
class ExpectationOutcome:
    """One expectation's verdict, in the shape the alert mail and the gates use."""
    suite: str
    type: str
    check: str
    description: str
    success: bool
    observed: Any = None
    failures: int | None = None
    examples: list[str] = field(default_factory=list)
    detail: str | None = None
    column: str | None = None

    @property
    def label(self) -> str:
        return self.description or f"{self.type}({self.column or ''})"


@dataclass
class SuiteOutcome:
    name: str
    success: bool
    statistics: dict[str, Any]
    results: list[ExpectationOutcome]
    data_docs_page: str | None = None
    result_id: int | None = None

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [r for r in self.results if not r.success]


@dataclass
class ValidationOutcome:
    """What ``run_suites`` returns: the verdict, per-suite details, where Data Docs are."""
    success: bool
    scope: str
    environment: str
    suites: dict[str, SuiteOutcome]
    statistics: dict[str, Any]
    data_docs_path: str | None
    checked_upto: dt.datetime | None = None

    @property
    def failed_expectations(self) -> list[ExpectationOutcome]:
        return [r for s in self.suites.values() for r in s.failed]

    @property
    def failed_suites(self) -> list[str]:
        return [n for n, s in self.suites.items() if not s.success]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["checked_upto"] = self.checked_upto.isoformat() if self.checked_upto else None
        out["failed_expectations"] = len(self.failed_expectations)
        return out

    def summary_lines(self) -> list[str]:
        lines = [f"validation {'PASSED' if self.success else 'FAILED'} ({self.scope} scope, {self.environment})"]
        for name, s in self.suites.items():
            st = s.statistics
            lines.append(f"  {name}: {'passed' if s.success else 'FAILED'} - "
                         f"{st.get('successful_expectations', '?')}/{st.get('evaluated_expectations', '?')} expectations"
                         + (f", page {s.data_docs_page}" if s.data_docs_page else ""))
            for r in s.failed:
                lines.append(f"    x {r.label}: observed {r.observed!r}"
                             + (f", examples {', '.join(r.examples)}" if r.examples else ""))
        if self.data_docs_path:
            lines.append(f"  Data Docs: {self.data_docs_path}")
        return lines


# --------------------------------------------------------------------------- helpers
def sqlalchemy_url(dsn: str) -> str:
    """A ``postgresql+psycopg://`` URL for GX from a libpq DSN (URI or key=value)."""
    from sqlalchemy.engine import URL

    params = psycopg.conninfo.conninfo_to_dict(dsn)
    known = {k: params.pop(k, None) for k in ("user", "password", "host", "port", "dbname")}
    query = {k: str(v) for k, v in params.items() if v is not None}
    query.setdefault("application_name", "activity-migration-gx")
    url = URL.create("postgresql+psycopg", username=known["user"], password=known["password"],
                     host=known["host"], port=int(known["port"]) if known["port"] else None,
                     database=known["dbname"], query=query)
    return url.render_as_string(hide_password=False)


def last_checked_upto(conn: psycopg.Connection, cfg: MigrationConfig, suite: str, environment: str
                      ) -> dt.datetime | None:
    q = sql.SQL("SELECT checked_upto FROM {} WHERE suite = %s AND environment = %s AND success "
                "AND checked_upto IS NOT NULL ORDER BY run_at DESC LIMIT 1").format(
        sql.Identifier(cfg.state_schema, "validation_results"))
    return scalar(conn, q, (suite, environment))


def choose_scope(conn: psycopg.Connection, cfg: MigrationConfig, requested: str, suites: list[str], environment: str,
                 *, sample_ranges: int, run_date: dt.date, overlap: dt.timedelta, ktype: str,
                 sample_ratio: float = DEFAULT_SAMPLE_RATIO, sample_min_rows: int = DEFAULT_SAMPLE_MIN_ROWS,
                 full_check_below_rows: int = FULL_CHECK_BELOW_ROWS) -> parity.Scope:
    if requested not in ("full", "incremental"):
        raise MigrationError(f"scope must be 'full' or 'incremental', got {requested!r}")
    if requested == "full":
        return parity.Scope(name="full", reason="requested")
    if ktype is None:
        return parity.Scope(name="full", reason="no legacy rows to compare")
    rows = parity.estimated_source_rows(conn, cfg)
    if rows <= full_check_below_rows:
        return parity.Scope(name="full", reason=f"small table (about {rows} rows, at most {full_check_below_rows}): "
                                                 "every row checked")
    marks = {s: last_checked_upto(conn, cfg, s, environment) for s in suites if s != "quarantine"}
    never = [s for s, m in marks.items() if m is None]
    if never:
        return parity.Scope(name="full", reason=f"no earlier successful check of {never} in {environment}: "
                                                  "the first incremental run checks everything")
    since = min(marks.values()) - overlap
    new_rows = parity.new_source_rows(conn, cfg, since)
    budget = parity.sample_budget(new_rows, sample_ratio, sample_min_rows) if sample_ranges > 0 else 0
    lo, hi, idx, slices = parity.sample_range(conn, cfg, ktype, sample_ranges, run_date, budget)
    return parity.Scope(name="incremental", since=since, lo=lo, hi=hi, sample_index=idx, sample_ranges=slices,
                        budget=budget, new_source_rows=new_rows,
                        reason=f"rows since the last successful check minus {overlap}")


@dataclass(frozen=True)
class ValidationSource:
    """What events are compared with: the legacy table, phase 6's archive of it, or nothing left."""
    cfg: MigrationConfig | None     # the config with that relation as the source (None: no legacy rows left)
    live: bool                      # the legacy table itself (it still grows)
    note: str


def validation_source(conn: psycopg.Connection, cfg: MigrationConfig) -> ValidationSource:
    """The legacy table while it is one; after phase 6 its archive while it exists; then nothing."""
    kind = scalar(conn, "SELECT relkind::text FROM pg_class WHERE oid = to_regclass(%s)",
                  (sql.Identifier(cfg.source.schema, cfg.source.table).as_string(conn),))
    if kind in ("r", "p"):
        return ValidationSource(cfg, True, f"the legacy table {cfg.source_table}")
    from ..phases.p6_cleanup import archive_config, current_archive
    arch = current_archive(conn, cfg) if ledger.state_schema_exists(conn, cfg) else None
    if arch and not arch["deleted_at"] and scalar(conn, "SELECT to_regclass(%s) IS NOT NULL",
                                                  (sql.Identifier(cfg.state_schema, arch["name"]).as_string(conn),)):
        return ValidationSource(archive_config(cfg, arch["name"]), False,
                                f"phase 6 archived {cfg.source_table}: events compared with the archive "
                                f"{cfg.state_schema}.{arch['name']} (every row)")
    return ValidationSource(None, False, f"{cfg.source_table} and its archive are gone (phase 6 ran and the "
                                         "archive was deleted): no legacy rows left to compare; events integrity "
                                         "and quarantine only")


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


def _asset_for(suite: str, scope: str, cfg: MigrationConfig) -> tuple[str, str, list[str]]:
    """(schema, table, index columns for examples) of the table asset a suite validates."""
    if suite == "parity":
        return cfg.state_schema, "v_parity_findings", []
    if suite == "quarantine":
        return cfg.state_schema, "quarantine", ["legacy_id"]
    if scope == "incremental":
        return cfg.state_schema, "v_events_in_scope", ["legacy_activity_log_id"]
    return cfg.target_schema, cfg.target_table, ["legacy_activity_log_id"]


def _parse_result(suite: str, r: Any) -> ExpectationOutcome:
    d = r.to_json_dict()
    conf = d.get("expectation_config") or {}
    kwargs = conf.get("kwargs") or {}
    meta = conf.get("meta") or {}
    res = d.get("result") or {}
    etype = conf.get("type") or conf.get("expectation_type") or "?"
    description = conf.get("description") or kwargs.get("description") or meta.get("notes") or ""
    check = meta.get("check") or etype
    if meta.get("field"):
        check = f"{check}:{meta['field']}"
    out = ExpectationOutcome(suite=suite, type=etype, check=check, description=description,
                             success=bool(d.get("success")), column=kwargs.get("column"))
    rows = (res.get("details") or {}).get("unexpected_rows")
    if etype == "unexpected_rows_expectation" and rows is not None:
        if suite == "parity":
            failures = sum(int(x.get("failures") or 0) for x in rows)
            examples = [str(e) for x in rows for e in (x.get("examples") or [])][:EXAMPLES]
            out.observed = failures if rows else 0
            out.failures = failures
            out.examples = examples
            out.detail = "; ".join(str(x.get("detail")) for x in rows if x.get("detail")) or None
        else:
            out.observed = res.get("observed_value")
            out.failures = res.get("observed_value")
            out.examples = [str(x.get("legacy_activity_log_id") or x.get("legacy_id") or x.get("id")) for x in rows[:EXAMPLES]]
        return out
    if "unexpected_count" in res:
        out.failures = res.get("unexpected_count")
        out.observed = {"unexpected_count": res.get("unexpected_count"), "element_count": res.get("element_count"),
                        "unexpected_percent": round(res.get("unexpected_percent") or 0, 4),
                        "values": [str(v) for v in (res.get("partial_unexpected_list") or [])[:EXAMPLES]]}
        idx = res.get("partial_unexpected_index_list") or []
        out.examples = [str(next(iter(x.values()))) if isinstance(x, dict) else str(x) for x in idx[:EXAMPLES]]
    else:
        out.observed = res.get("observed_value")
        if "details" in res and not out.success:
            out.detail = str(res.get("details"))[:500]
    return out


def _record(conn: psycopg.Connection, cfg: MigrationConfig, outcome: SuiteOutcome, scope: str, ctx: RunContext,
            checked_upto: dt.datetime | None, docs_page: str | None) -> int:
    q = sql.SQL("INSERT INTO {} (suite, scope, success, statistics, failures, data_docs_path, environment, "
                "project_version, dag_run_id, checked_upto) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "RETURNING id").format(sql.Identifier(cfg.state_schema, "validation_results"))
    failures = [asdict(r) for r in outcome.failed]
    return int(scalar(conn, q, (outcome.name, scope, outcome.success, Jsonb(outcome.statistics),
                                Jsonb(failures), docs_page, ctx.environment, ledger.project_version(), ctx.dag_run_id,
                                checked_upto)))


class _GxSession:
    """One ephemeral GX context per (database, Data Docs folder), kept for the life of the process.

    Creating the context, the data source, the assets, suites, validation definitions and
    checkpoints costs a few hundred milliseconds per run; a process that validates more than
    once (a benchmark, a CLI loop, tests) pays it once. A suite is reloaded from
    ``expectations/`` when its file changed. The Data Docs index of a kept context lists the
    runs of this process (a nightly task process has one).
    """

    MAX = 4  # contexts kept (LRU): each holds a small SQLAlchemy pool

    _sessions: "dict[tuple[str, str], _GxSession]" = {}

    def __init__(self, dsn: str, docs_dir: Path) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        self.context.add_data_docs_site(site_name=datadocs.SITE_NAME, site_config=datadocs.site_config(docs_dir))
        self.source = self.context.data_sources.add_postgres("activity_db", connection_string=sqlalchemy_url(dsn))
        self.assets: dict[tuple[str, str], Any] = {}
        self.suites: dict[str, tuple[Any, Any]] = {}  # suite -> (file stamp, ExpectationSuite)
        self.checkpoints: dict[tuple[str, str, str], tuple[Any, Any]] = {}  # (suite, schema, table) -> (stamp, checkpoint)

    @classmethod
    def get(cls, dsn: str, docs_dir: Path) -> "_GxSession":
        key = (dsn, str(Path(docs_dir).resolve()))
        session = cls._sessions.pop(key, None) or cls(dsn, docs_dir)
        cls._sessions[key] = session  # most recently used last
        while len(cls._sessions) > cls.MAX:
            old = cls._sessions.pop(next(iter(cls._sessions)))
            old.close()
        return session

    @classmethod
    def clear(cls) -> None:
        while cls._sessions:
            cls._sessions.popitem()[1].close()

    def close(self) -> None:
        try:
            engine = getattr(self.source, "_cached_engine", None) or getattr(self.source, "_engine", None)
            if engine is not None:
                engine.dispose()
        except Exception:  # noqa: BLE001 - best effort: the pool goes with the process anyway
            pass

    def checkpoint(self, name: str, schema: str, table: str, index_cols: list[str]) -> Any:
        import great_expectations as gx
        from great_expectations.checkpoint import UpdateDataDocsAction

        spec_path = EXPECTATIONS_DIR / SUITES[name]
        stat = spec_path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        key = (name, schema, table)
        cached = self.checkpoints.get(key)
        if cached and cached[0] == stamp:
            return cached[1]
        asset = self.assets.get((schema, table))
        if asset is None:
            asset = self.source.add_table_asset(name=f"{schema}.{table}", table_name=table, schema_name=schema)
            asset.add_batch_definition_whole_table("whole_table")
            self.assets[(schema, table)] = asset
        batch = asset.get_batch_definition("whole_table")
        tag = f"{name}@{schema}.{table}#{len(self.checkpoints)}"
        known = self.suites.get(name)
        if known and known[0] == stamp:
            suite = known[1]
        else:
            if known:
                self.context.suites.delete(name)
            suite = self.context.suites.add(load_suite(name))
            self.suites[name] = (stamp, suite)
        vd = self.context.validation_definitions.add(gx.ValidationDefinition(name=f"{tag}_validation", data=batch,
                                                                             suite=suite))
        if name == "parity":
            result_format: dict[str, Any] = {"result_format": "COMPLETE"}
        else:
            result_format = {"result_format": "SUMMARY", "partial_unexpected_count": EXAMPLES,
                             "unexpected_index_column_names": index_cols}
        checkpoint = self.context.checkpoints.add(gx.Checkpoint(
            name=f"{tag}_checkpoint", validation_definitions=[vd], result_format=result_format,
            actions=[UpdateDataDocsAction(name="data_docs", site_names=[datadocs.SITE_NAME])]))
        self.checkpoints[key] = (stamp, checkpoint)
        return checkpoint


def _gx_validate(dsn: str, cfg: MigrationConfig, suites: list[str], scope: str, docs_dir: Path, run_name: str,
                 parameters: dict[str, Any]) -> dict[str, tuple[Any, str | None]]:
    """Run the suites with GX; returns suite -> (ExpectationSuiteValidationResult, Data Docs page path).

    Data Docs are built for the suites that ran only (GX's UpdateDataDocsAction renders the
    pages of this run's results and the index).
    """
    t0 = time.perf_counter()
    from great_expectations.core.run_identifier import RunIdentifier

    for name in ("great_expectations", "great_expectations.core", "great_expectations.expectations"):
        logging.getLogger(name).setLevel(logging.WARNING)
    log.debug("great_expectations imported in %.1f s", time.perf_counter() - t0)
    datadocs.cache_templates()
    session = _GxSession.get(dsn, docs_dir)
    run_id = RunIdentifier(run_name=run_name, run_time=dt.datetime.now(dt.timezone.utc))
    params = {k: v for k, v in parameters.items() if not k.startswith("_")}
    out: dict[str, tuple[Any, str | None]] = {}
    for name in suites:
        schema, table, index_cols = _asset_for(name, scope, cfg)
        checkpoint = session.checkpoint(name, schema, table, index_cols)
        result = checkpoint.run(expectation_parameters=params, run_id=run_id)
        for identifier, vr in result.run_results.items():
            page = None
            for site in session.context.get_docs_sites_urls(resource_identifier=identifier):
                if site.get("site_name") == datadocs.SITE_NAME and site.get("site_url"):
                    page = site["site_url"].removeprefix("file://")
            out[name] = (vr, page)
    return out


# --------------------------------------------------------------------------- entry point
def run_suites(dsn: str, suites: list[str] | tuple[str, ...] | None = ("parity",), scope: str = "full",
               ctx: RunContext | None = None, data_docs_dir: str | Path | None = None, *,
               cfg: MigrationConfig | None = None, sample_ranges: int = DEFAULT_SAMPLE_RANGES,
               run_date: dt.date | None = None, overlap: dt.timedelta = DEFAULT_OVERLAP, record: bool = True,
               ensure_indexes: bool = True, sample_ratio: float = DEFAULT_SAMPLE_RATIO,
               sample_min_rows: int = DEFAULT_SAMPLE_MIN_ROWS,
               full_check_below_rows: int = FULL_CHECK_BELOW_ROWS) -> ValidationOutcome:
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
    run_date = run_date or dt.date.today()
    t_start = time.perf_counter()
    conn = connect(dsn, autocommit=True)
    try:
        source = validation_source(conn, cfg)
        live = parity.systems_live(conn, cfg)
        missing = [k for k in ("target", "state") if not live[k]]
        if missing:
            what = {"target": cfg.target, "state": f"schema {cfg.state_schema}"}
            raise PreflightError("cannot validate: " + ", ".join(f"{what[m]} does not exist" for m in missing)
                                 + f" (database {redact(dsn)})")
        if source.cfg is None:
            if "parity" in names:
                log.warning("parity skipped: %s", source.note)
            names = [n for n in names if n != "parity"] or ["events_integrity"]
        scfg = source.cfg or cfg
        if source.cfg is not None:
            # the archive never grows: no created_at index on it (it would come back with the
            # table on a rollback), every row checked
            parity.ensure_validation_objects(conn, scfg, indexes=ensure_indexes and source.live, dsn=dsn)
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (LOCK_KEY,))
        try:
            ktype = parity.key_type(conn, scfg) if source.cfg is not None else None
            chosen = choose_scope(conn, scfg, scope if source.live else "full", names, ctx.environment,
                                  sample_ranges=sample_ranges, run_date=run_date, overlap=overlap, ktype=ktype,
                                  sample_ratio=sample_ratio, sample_min_rows=sample_min_rows,
                                  full_check_below_rows=full_check_below_rows)
            if not source.live:
                chosen.reason = source.note
            checked_upto = scalar(conn, "SELECT now()")
            statistics: dict[str, dict[str, Any]] = {n: {"compared_with": source.note} for n in names}
            entity_counts: list[dict[str, Any]] = []
            if "parity" in names:
                collected = parity.collect(conn, scfg, chosen, dsn=dsn)
                statistics["parity"].update(collected.statistics)
                entity_counts = collected.entity_type_counts
                if entity_counts:
                    statistics["parity"]["entity_type_counts"] = entity_counts
            conn.execute(sql.SQL("UPDATE {} SET since = %s").format(
                sql.Identifier(cfg.state_schema, "validation_scope")),
                (chosen.since if chosen.name == "incremental" else dt.datetime.min.replace(tzinfo=dt.timezone.utc),))
            parameters = _expectation_parameters(conn, cfg)
            run_name = f"{ctx.environment}-{chosen.name}"
            t_gx = time.perf_counter()
            docs_since = time.time() - 1.0
            gx_results = _gx_validate(dsn, cfg, names, chosen.name, docs_dir, run_name, parameters)
            gx_seconds = round(time.perf_counter() - t_gx, 3)
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (LOCK_KEY,))
        datadocs.make_offline(docs_dir, since=docs_since)
        outcomes: dict[str, SuiteOutcome] = {}
        for name in names:
            vr, page = gx_results[name]
            results = [_parse_result(name, r) for r in vr.results]
            st = dict(vr.statistics)
            st.update(statistics[name])
            st.update({"scope": chosen.name, "scope_reason": chosen.reason, "gx_seconds": gx_seconds})
            if name != "parity" and chosen.since:
                st["since"] = chosen.since.isoformat()
            so = SuiteOutcome(name=name, success=bool(vr.success), statistics=st, results=results, data_docs_page=page)
            if record:
                so.result_id = _record(conn, cfg, so, chosen.name, ctx, checked_upto, page)
            outcomes[name] = so
        total = round(time.perf_counter() - t_start, 3)
        return ValidationOutcome(
            success=all(s.success for s in outcomes.values()), scope=chosen.name, environment=ctx.environment,
            suites=outcomes, statistics={"seconds": total, "gx_seconds": gx_seconds, **chosen.describe()},
            data_docs_path=str(docs_dir / "index.html"), checked_upto=checked_upto)
    finally:
        conn.close()
