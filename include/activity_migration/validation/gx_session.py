"""Great Expectations judges the suites: one kept ephemeral context per database, Data Docs built.

``great_expectations`` is imported lazily inside the functions (it costs 4-6 s). Each suite
validates a table asset (a view or table: pushdown, no query assets); the results are turned
into :class:`ExpectationOutcome` rows here.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from pathlib import Path
from typing import Any

import psycopg

from ..config import MigrationConfig
from . import datadocs
from .outcomes import ExpectationOutcome
from .suites import EXPECTATIONS_DIR, SUITES, load_suite

log = logging.getLogger(__name__)

EXAMPLES = 5


def sqlalchemy_url(dsn: str) -> str:
    """A ``postgresql+psycopg://`` URL for GX from a libpq DSN (URI or key=value)."""
    from sqlalchemy.engine import URL

    params = psycopg.conninfo.conninfo_to_dict(dsn)
    known: dict[str, str | None] = {}
    for k in ("user", "password", "host", "port", "dbname"):
        v = params.pop(k, None)
        known[k] = None if v is None else str(v)  # libpq parses every value as text
    query = {k: str(v) for k, v in params.items() if v is not None}
    query.setdefault("application_name", "activity-migration-gx")
    url = URL.create(
        "postgresql+psycopg",
        username=known["user"],
        password=known["password"],
        host=known["host"],
        port=int(known["port"]) if known["port"] else None,
        database=known["dbname"],
        query=query,
    )
    return url.render_as_string(hide_password=False)


def _asset_for(suite: str, scope: str, cfg: MigrationConfig) -> tuple[str, str, list[str]]:
    """(schema, table, index columns for examples) of the table asset a suite validates."""
    if suite == "parity":
        return cfg.state_schema, "v_parity_findings", []
    if suite == "quarantine":
        return cfg.state_schema, "quarantine", ["legacy_id"]
    if scope == "incremental":
        return cfg.state_schema, "v_events_in_scope", ["legacy_activity_log_id"]
    return cfg.target_schema, cfg.target_table, ["legacy_activity_log_id"]


def parse_result(suite: str, r: Any) -> ExpectationOutcome:
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
    out = ExpectationOutcome(
        suite=suite,
        type=etype,
        check=check,
        description=description,
        success=bool(d.get("success")),
        column=kwargs.get("column"),
    )
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
            out.examples = [
                str(x.get("legacy_activity_log_id") or x.get("legacy_id") or x.get("id"))
                for x in rows[:EXAMPLES]
            ]
        return out
    if "unexpected_count" in res:
        out.failures = res.get("unexpected_count")
        out.observed = {
            "unexpected_count": res.get("unexpected_count"),
            "element_count": res.get("element_count"),
            "unexpected_percent": round(res.get("unexpected_percent") or 0, 4),
            "values": [str(v) for v in (res.get("partial_unexpected_list") or [])[:EXAMPLES]],
        }
        idx = res.get("partial_unexpected_index_list") or []
        out.examples = [
            str(next(iter(x.values()))) if isinstance(x, dict) else str(x) for x in idx[:EXAMPLES]
        ]
    else:
        out.observed = res.get("observed_value")
        if "details" in res and not out.success:
            out.detail = str(res.get("details"))[:500]
    return out


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
        self.context.add_data_docs_site(
            site_name=datadocs.SITE_NAME, site_config=datadocs.site_config(docs_dir)
        )
        self.source = self.context.data_sources.add_postgres(
            "activity_db", connection_string=sqlalchemy_url(dsn)
        )
        self.assets: dict[tuple[str, str], Any] = {}
        self.suites: dict[str, tuple[Any, Any]] = {}  # suite -> (file stamp, ExpectationSuite)
        self.checkpoints: dict[
            tuple[str, str, str], tuple[Any, Any]
        ] = {}  # (suite, schema, table) -> (stamp, checkpoint)

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
            asset = self.source.add_table_asset(
                name=f"{schema}.{table}", table_name=table, schema_name=schema
            )
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
        vd = self.context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{tag}_validation", data=batch, suite=suite)
        )
        if name == "parity":
            result_format: dict[str, Any] = {"result_format": "COMPLETE"}
        else:
            result_format = {
                "result_format": "SUMMARY",
                "partial_unexpected_count": EXAMPLES,
                "unexpected_index_column_names": index_cols,
            }
        checkpoint = self.context.checkpoints.add(
            gx.Checkpoint(
                name=f"{tag}_checkpoint",
                validation_definitions=[vd],
                result_format=result_format,
                actions=[UpdateDataDocsAction(name="data_docs", site_names=[datadocs.SITE_NAME])],
            )
        )
        self.checkpoints[key] = (stamp, checkpoint)
        return checkpoint


def gx_validate(
    dsn: str,
    cfg: MigrationConfig,
    suites: list[str],
    scope: str,
    docs_dir: Path,
    run_name: str,
    parameters: dict[str, Any],
) -> dict[str, tuple[Any, str | None]]:
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
                url = site.get("site_url")
                if site.get("site_name") == datadocs.SITE_NAME and url:
                    page = url.removeprefix("file://")
            out[name] = (vr, page)
    return out
