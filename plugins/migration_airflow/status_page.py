"""The migration status page: a small FastAPI app, mounted in the Airflow API server by a plugin.

Every migration fact on the page comes from the state schema in the application database
(``activity_migration.status.collect`` plus the ledger, backfill chunks, tiers, validation
results and quarantine tables), never from Airflow's metadata: a fresh Airflow shows the same
page. The one Airflow fact shown is the list of approvals waiting in Required Actions.

Routes (relative to where the app is mounted, ``/migration-status`` under Airflow):

- ``GET /?env=staging|production``  the HTML page (no external assets; refreshes every 30 s)
- ``GET /api/status?env=...``       the same facts as JSON
- ``GET /data-docs/...``            the Great Expectations Data Docs folder (``artifacts/data_docs``)
- ``GET /static/...``               the page's stylesheet

This module imports no Airflow (only FastAPI, which Airflow ships); the plugin passes the Airflow-aware pieces
(connection lookup, login check, pending approvals) to :func:`create_app`. Run it alone with
``uvicorn --factory migration_airflow.status_page:app_from_env`` (the browser test does).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any, Callable

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from activity_migration import ledger
from activity_migration.config import MigrationConfig, load_config
from activity_migration.connections import ENVIRONMENT_CONN_IDS, connection_spec, dsn_of
from activity_migration.db import PROJECT_ROOT, connection, fetch_all, load_sql, redact
from activity_migration.ledger import state_table
from activity_migration.status import collect

from .status_plots import plots

STATIC_DIR = Path(__file__).resolve().parent / "static"
DATA_DOCS_DIR = Path(os.environ.get("ACTIVITY_MIGRATION_DATA_DOCS", PROJECT_ROOT / "artifacts" / "data_docs"))
ENVIRONMENTS = ("staging", "production")
DEFAULT_ENVIRONMENT = os.environ.get("MIGRATION_STATUS_DEFAULT_ENV", "staging")

# Settings a section of the page already shows (the dual-write section: the cutoff and the switch).
SHOWN_IN_SECTIONS = ("cutoff", "dual_write")

DsnResolver = Callable[[str], str]
PendingApprovals = Callable[[], list[dict[str, Any]]]


# --------------------------------------------------------------------------- facts


def core_dsn_resolver(environment: str) -> str:
    """The environment's DSN from ``AIRFLOW_CONN_*`` or airflow_settings.yaml (no Airflow needed).
    An embedded Postgres is not started: the page reads what runs."""
    return dsn_of(connection_spec(ENVIRONMENT_CONN_IDS[environment]), start_embedded=False)


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (dt.datetime, dt.date)) else value


def _q(conn, cfg: MigrationConfig, text: str, *tables: str, params: tuple = ()) -> list[dict[str, Any]]:
    from psycopg import sql

    return fetch_all(conn, sql.SQL(text).format(*[state_table(cfg, t) for t in tables]), params)


def data_docs_href(path: str | None) -> str | None:
    """Path (relative to the app) of a Data Docs page, or None when it is not under the Data Docs folder."""
    if not path:
        return None
    p = Path(path)
    if not p.is_absolute():
        p = (DATA_DOCS_DIR / p) if not (PROJECT_ROOT / p).exists() else PROJECT_ROOT / p
    try:
        rel = p.resolve().relative_to(DATA_DOCS_DIR.resolve())
    except ValueError:
        return None
    if p.is_dir():
        rel = rel / "index.html"
    return "data-docs/" + rel.as_posix()


def backfill_progress(conn, cfg: MigrationConfig) -> dict[str, Any] | None:
    """Rows done / total, chunks, rate and ETA: the backfill's own snapshot (None before a plan exists).

    The live rate covers only the last minutes; once no chunk finished lately, the rate over the
    whole backfill and when its last chunk finished are shown instead (``rate_kind``).
    """
    from activity_migration.backfill.progress import snapshot

    p = snapshot(conn, cfg)
    if not p["chunks"]:
        return None
    timing = fetch_all(
        conn,
        load_sql("airflow_ui/07_summarize_backfill_timing.sql", chunks=state_table(cfg, "backfill_chunks")),
    )
    t = timing[0] if timing else {}
    p["last_finished"] = _iso(t.get("last_finished"))
    p["rate_kind"] = "last minutes"
    if p.get("rows_per_s") is None and t.get("seconds"):
        p["rows_per_s"] = round(float(t["rows_done"]) / float(t["seconds"]), 1)
        p["rate_kind"] = "whole backfill (no chunk finished in the last minutes)"
    p["finished"] = p["chunks_done"] == p["chunks"]
    return p


def validations(conn, cfg: MigrationConfig) -> list[dict[str, Any]]:
    """The newest result of each suite, with its statistics and a Data Docs link served by this app."""
    rows = fetch_all(
        conn,
        load_sql(
            "airflow_ui/05_read_last_validation_per_suite.sql", results=state_table(cfg, "validation_results")
        ),
    )
    for r in rows:
        r["data_docs_href"] = data_docs_href(r.pop("data_docs_path", None))
    return _jsonable(rows)


def overview(conn, cfg: MigrationConfig) -> dict[str, Any]:
    """The facts at the top of the page, read straight from the state schema."""
    if not ledger.state_schema_exists(conn, cfg):
        return {"state_schema_exists": False}
    quarantine = fetch_all(
        conn, load_sql("airflow_ui/04_summarize_quarantine.sql", quarantine=state_table(cfg, "quarantine"))
    )[0]
    tiers = _q(conn, cfg, "SELECT tier, status, updated_at FROM {} ORDER BY tier", "tier_state")
    settings = [
        s
        for s in _q(conn, cfg, "SELECT key, value, updated_at, updated_by FROM {} ORDER BY key", "settings")
        if s["key"] not in SHOWN_IN_SECTIONS
    ]
    history = fetch_all(
        conn,
        load_sql("airflow_ui/06_read_ledger_with_approver.sql", ledger=state_table(cfg, "phase_ledger")),
        (25,),
    )
    return {
        "state_schema_exists": True,
        "validations": validations(conn, cfg),
        "quarantine": quarantine,
        "backfill": _jsonable(backfill_progress(conn, cfg)),
        "tiers": _jsonable(tiers),
        "tiers_done": sum(1 for t in tiers if t["status"] in ("dropped", "verified")),
        "tiers_total": len(cfg_tiers(cfg)) or len(tiers),
        "settings": _jsonable(settings),
        "ledger": _jsonable(history),
        "plots": plots(conn, cfg),
    }


def same_database(dsn_resolver: DsnResolver) -> bool | None:
    """Do staging and production resolve to one database? None when either cannot be reached."""
    from activity_migration.rehearsal_staging import database_identity
    from activity_migration.rehearsal_staging import same_database as same

    try:
        ids = []
        for env in ENVIRONMENTS:
            with connection(dsn_resolver(env), connect_timeout=5) as conn:
                ids.append(database_identity(conn))
                conn.rollback()
        return same(ids[0], ids[1])
    except Exception:  # a missing connection: nothing to warn about here
        return None


def cfg_tiers(cfg: MigrationConfig) -> list[Any]:
    return list(getattr(cfg, "tiers", None) or [])


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def gather(environment: str, dsn_resolver: DsnResolver, pending: PendingApprovals | None) -> dict[str, Any]:
    """Everything the page shows for ``environment``; a database error is reported, not raised."""
    out: dict[str, Any] = {
        "environment": environment,
        "collected_at": dt.datetime.now(dt.timezone.utc).isoformat(),
        "same_database": same_database(dsn_resolver),
    }
    try:
        dsn = dsn_resolver(environment)
        out["database"] = redact(dsn)
        cfg = load_config()
        with connection(dsn, connect_timeout=5) as conn:
            out["sections"] = _jsonable(collect(conn, cfg))
            try:
                out["overview"] = overview(conn, cfg)
            except Exception as exc:  # keep the sections visible
                conn.rollback()
                out["overview"] = {"error": f"{type(exc).__name__}: {exc}"}
                out["error"] = f"overview: {type(exc).__name__}: {exc}"
            conn.rollback()
    except Exception as exc:  # the page must render even when the database is down
        out["error"] = f"{type(exc).__name__}: {exc}"
    if pending is None:
        out["pending_approvals"] = None
    else:
        try:
            rows = pending()
            out["pending_approvals"] = [r for r in rows if r.get("environment") in (None, environment)]
            out["pending_approvals_other_env"] = len(rows) - len(out["pending_approvals"])
        except Exception as exc:
            out["pending_approvals"] = None
            out["pending_approvals_error"] = f"{type(exc).__name__}: {exc}"
    return out


def airflow_pending_approvals() -> list[dict[str, Any]]:
    """Approvals of migration DAGs waiting for an answer, read through Airflow's ORM (API server only)."""
    from airflow.models.dagrun import DagRun
    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(
                HITLDetail.subject,
                HITLDetail.created_at,
                TaskInstance.dag_id,
                TaskInstance.run_id,
                TaskInstance.task_id,
                TaskInstance.map_index,
                TaskInstance.state,
                DagRun.conf,
            )
            .join(TaskInstance, HITLDetail.ti_id == TaskInstance.id)
            .join(DagRun, (DagRun.dag_id == TaskInstance.dag_id) & (DagRun.run_id == TaskInstance.run_id))
            .where(HITLDetail.responded_at.is_(None), TaskInstance.dag_id.like("migration_%"))
            .order_by(HITLDetail.created_at)
        ).all()
    return [
        {
            "dag_id": r.dag_id,
            "run_id": r.run_id,
            "task_id": r.task_id,
            "map_index": r.map_index,
            "state": str(r.state),
            "subject": r.subject,
            "asked_at": _iso(r.created_at),
            "environment": (r.conf or {}).get("environment", "staging"),
        }
        for r in rows
    ]


# --------------------------------------------------------------------------- HTML


def _fmt_seconds(seconds: Any) -> str:
    if seconds is None:
        return "unknown"
    seconds = int(seconds)
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 5400:
        return f"{seconds // 60} min"
    return f"{seconds / 3600:.1f} h"


def _templates():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(STATIC_DIR)), autoescape=True, undefined=jinja2.ChainableUndefined
    )
    env.filters["duration"] = _fmt_seconds
    env.filters["when"] = lambda v: (str(v).replace("T", " ")[:19] + " UTC") if v else ""
    env.filters["columns"] = table_columns
    return env


def table_columns(value: Any) -> list[str]:
    """Column names of a list of objects (the union of their keys, in order); [] for anything else."""
    if not isinstance(value, list) or not value or not all(isinstance(v, dict) for v in value):
        return []
    return list(dict.fromkeys(k for v in value for k in v))


def without_paths(value: Any) -> Any:
    """``value`` with every absolute file path replaced: by this app's Data Docs link when the path
    is a Data Docs page, else by a mention that the file is on the server (no local paths shown)."""
    if isinstance(value, dict):
        return {k: without_paths(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_paths(v) for v in value]
    if isinstance(value, str) and value.startswith("/") and "/" in value[1:] and " " not in value:
        return data_docs_href(value) or "(a file on the Airflow server)"
    return value


def render_html(data: dict[str, Any], base: str) -> str:
    data = without_paths(data)
    sections = data.get("sections") or {}
    phases = sections.get("phases") or {}
    extra_sections = {k: v for k, v in sections.items() if k != "phases"}
    return (
        _templates()
        .get_template("status_page.html")
        .render(
            data=data,
            base=base.rstrip("/"),
            environments=ENVIRONMENTS,
            phases=phases,
            phase_ids=ledger.PHASES,
            ov=data.get("overview") or {},
            extra_sections=extra_sections,
        )
    )


# --------------------------------------------------------------------------- app


def _env(env: str | None) -> str:
    """The requested environment (default ``DEFAULT_ENVIRONMENT``); 400 when unknown."""
    env = env or DEFAULT_ENVIRONMENT
    if env not in ENVIRONMENTS:
        raise HTTPException(status_code=400, detail=f"env must be one of {list(ENVIRONMENTS)}, got {env!r}")
    return env


def _base(request: Request) -> str:
    return request.scope.get("root_path", "") or ""


def _add_data_docs_routes(app: FastAPI) -> None:
    """Serve the Data Docs folder under ``/data-docs`` with the app's dependencies (login)."""

    @app.get("/data-docs")
    def data_docs_root(request: Request) -> RedirectResponse:
        return RedirectResponse(_base(request) + "/data-docs/index.html")

    # A route, not a StaticFiles mount: mounts skip the app's dependencies, and Data Docs can
    # hold sample rows of the application's data, so they need the same login as the page.
    @app.get("/data-docs/{path:path}")
    def data_docs(path: str) -> FileResponse:
        root = DATA_DOCS_DIR.resolve()
        target = (root / path).resolve()
        if target.is_dir():
            target = target / "index.html"
        if not target.is_relative_to(root) or not target.is_file():
            raise HTTPException(status_code=404, detail=f"no Data Docs page {path!r} under {DATA_DOCS_DIR}")
        return FileResponse(target)


def create_app(
    *,
    dsn_resolver: DsnResolver = core_dsn_resolver,
    pending_approvals: PendingApprovals | None = None,
    dependencies: list[Any] | None = None,
    airflow_ui_base: str = "",
) -> FastAPI:
    """Build the FastAPI app.

    :param dsn_resolver: environment name -> libpq DSN of that environment's application database
    :param pending_approvals: callable listing unanswered approvals (None: not shown)
    :param dependencies: FastAPI dependencies for every route (the plugin passes Airflow's login check)
    :param airflow_ui_base: prefix of Airflow UI links (Required Actions), "" when mounted in Airflow
    """
    app = FastAPI(
        title="Activity migration status",
        dependencies=dependencies or [],
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )

    @app.get("/", response_class=HTMLResponse)
    def page(
        request: Request, env: str | None = Query(None, description="staging or production")
    ) -> HTMLResponse:
        data = gather(_env(env), dsn_resolver, pending_approvals)
        data["airflow_ui_base"] = airflow_ui_base
        return HTMLResponse(render_html(data, _base(request)))

    @app.get("/api/status")
    def status_json(env: str | None = Query(None, description="staging or production")) -> JSONResponse:
        return JSONResponse(gather(_env(env), dsn_resolver, pending_approvals))

    _add_data_docs_routes(app)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    return app


def app_from_env() -> FastAPI:
    """App without Airflow (no login, no pending approvals): ``uvicorn --factory ...:app_from_env``."""
    return create_app()
