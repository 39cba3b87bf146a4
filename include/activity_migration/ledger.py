"""Phase ledger and settings in the migration's state schema.

The ledger is the source of truth for "what ran, where, when, who approved": a fresh
Airflow resumes from it, ``activity-migration status`` and the status page read it, and the
rehearsal gate reads the staging ledger.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import socket
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Iterator, Protocol, cast

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from .config import MigrationConfig, load_config
from .db import PROJECT_ROOT, connection, fetch_all, fetch_one, load_sql, scalar

STATE_SCHEMA_SQL = "p1_infrastructure/01_create_state_schema.sql"
STATE_SCHEMA_COMMENT = "owned by activity-migration: ledger, backups, chunk ledger, quarantine, settings"

# Phase ids as recorded in the ledger (the DAG id without the "migration_" prefix).
PHASES = (
    "p1_infrastructure",
    "p2_dual_write",
    "p3_read_path",
    "p4_backfill",
    "p5_trigger_removal",
    "p6_cleanup",
)


@lru_cache(maxsize=1)
def project_version() -> str:
    """The project version a run is recorded with: ACTIVITY_MIGRATION_VERSION, else the git commit."""
    env = os.environ.get("ACTIVITY_MIGRATION_VERSION")
    if env:
        return env
    try:
        out = _git("rev-parse", "--short=12", "HEAD")
        if out.returncode == 0 and out.stdout.strip():
            dirty = _git("status", "--porcelain", "--untracked-files=no").stdout.strip()
            return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return "unknown"


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=5)


def state_schema_exists(conn: psycopg.Connection, cfg: MigrationConfig | None = None) -> bool:
    cfg = cfg or load_config()
    return bool(scalar(conn, "SELECT 1 FROM pg_namespace WHERE nspname = %s", (cfg.state_schema,)))


_DEFINITION_MARK = "[definition sha256:{}]"


def ensure_state_schema(conn: psycopg.Connection, cfg: MigrationConfig | None = None) -> None:
    """Make sure the state schema and tables exist at this version's definition (made when missing,
    brought up to date otherwise), locked down (no grant to anyone, row level security on every table).

    Cheap when nothing changed: the schema's comment carries a hash of the definition, and
    only a missing schema or a different hash runs the file (every ledger write calls this).
    """
    cfg = cfg or load_config()
    stmt = load_sql(STATE_SCHEMA_SQL, state=cfg.state_schema)
    mark = _DEFINITION_MARK.format(hashlib.sha256(stmt.as_string(conn).encode()).hexdigest()[:16])
    from .privileges import lock_down_state_schema

    # One transaction block for the check and the work: a transaction of its own when the
    # connection is idle (committed here), a savepoint inside the caller's open transaction.
    with conn.transaction():
        current = scalar(
            conn, "SELECT obj_description(to_regnamespace(%s), 'pg_namespace')", (cfg.state_schema,)
        )
        if current and current.endswith(mark):
            return
        with conn.cursor() as cur:
            cur.execute(stmt)
        lock_down_state_schema(conn, cfg)
        conn.execute(
            sql.SQL("COMMENT ON SCHEMA {} IS {}").format(
                sql.Identifier(cfg.state_schema), sql.Literal(f"{STATE_SCHEMA_COMMENT} {mark}")
            )
        )


def state_table(cfg: MigrationConfig, name: str) -> sql.Identifier:
    """A relation of the migration's state schema, quoted (``activity_migration.phase_ledger``)."""
    return sql.Identifier(cfg.state_schema, name)


@dataclass
class RunContext:
    """Who/where a step runs: recorded with every ledger row."""

    environment: str = "production"
    mode: str = "normal"
    dag_run_id: str | None = None
    actor: str | None = None

    def __post_init__(self) -> None:
        from .errors import ConfigError

        if self.environment not in ("staging", "production"):
            raise ConfigError(f"environment must be 'staging' or 'production', got {self.environment!r}")
        if self.mode not in ("normal", "demo"):
            raise ConfigError(f"mode must be 'normal' or 'demo', got {self.mode!r}")


def _commit_unless_in_block(conn: psycopg.Connection) -> None:
    """Commit a ledger write at once, except inside ``with conn.transaction()``: there the
    row belongs to the caller's transaction (e.g. recorded atomically with a switch)."""
    if conn.autocommit:
        return
    try:
        conn.commit()
    except psycopg.ProgrammingError:
        pass  # inside a transaction block: it commits (or rolls back) with the caller's work


def record(
    conn: psycopg.Connection,
    phase: str,
    step: str,
    status: str,
    ctx: RunContext | None = None,
    details: dict[str, Any] | None = None,
    *,
    actor: str | None = None,
    finished: bool = True,
    cfg: MigrationConfig | None = None,
) -> int:
    """Append a ledger row and return its id (commits when ``conn`` is not in a transaction block)."""
    cfg = cfg or load_config()
    ctx = ctx or RunContext()
    q = load_sql("ledger/01_insert_ledger_row.sql", ledger=state_table(cfg, "phase_ledger"))
    row_id = scalar(
        conn,
        q,
        {
            "phase": phase,
            "step": step,
            "status": status,
            "environment": ctx.environment,
            "mode": ctx.mode,
            "project_version": project_version(),
            "dag_run_id": ctx.dag_run_id,
            "actor": actor or ctx.actor,
            "details": Jsonb(details or {}),
            "finished": finished,
        },
    )
    _commit_unless_in_block(conn)
    return int(row_id)


def finish(
    conn: psycopg.Connection,
    ledger_id: int,
    status: str,
    details: dict[str, Any] | None = None,
    cfg: MigrationConfig | None = None,
) -> None:
    cfg = cfg or load_config()
    q = load_sql("ledger/03_finish_ledger_row.sql", ledger=state_table(cfg, "phase_ledger"))
    conn.execute(q, {"status": status, "details": Jsonb(details or {}), "id": ledger_id})
    _commit_unless_in_block(conn)


def last_step(
    conn: psycopg.Connection,
    phase: str,
    step: str | None = None,
    *,
    status: str | None = None,
    environment: str | None = None,
    cfg: MigrationConfig | None = None,
) -> dict[str, Any] | None:
    """The newest ledger row for ``phase`` (and ``step``/``status``/``environment`` when given)."""
    cfg = cfg or load_config()
    if not state_schema_exists(conn, cfg):
        return None
    where: list[sql.Composable] = [sql.SQL("phase = %s")]
    params: list[Any] = [phase]
    for col, val in (("step", step), ("status", status), ("environment", environment)):
        if val is not None:
            where.append(sql.SQL("{} = %s").format(sql.Identifier(col)))
            params.append(val)
    q = sql.SQL("SELECT * FROM {} WHERE {} ORDER BY id DESC LIMIT 1").format(
        state_table(cfg, "phase_ledger"), sql.SQL(" AND ").join(where)
    )
    return fetch_one(conn, q, params)


def history(
    conn: psycopg.Connection, limit: int = 50, cfg: MigrationConfig | None = None
) -> list[dict[str, Any]]:
    cfg = cfg or load_config()
    if not state_schema_exists(conn, cfg):
        return []
    q = sql.SQL("SELECT * FROM {} ORDER BY id DESC LIMIT %s").format(state_table(cfg, "phase_ledger"))
    return fetch_all(conn, q, (limit,))


def get_setting(
    conn: psycopg.Connection, key: str, default: Any = None, cfg: MigrationConfig | None = None
) -> Any:
    cfg = cfg or load_config()
    if not state_schema_exists(conn, cfg):
        return default
    row = fetch_one(
        conn, sql.SQL("SELECT value FROM {} WHERE key = %s").format(state_table(cfg, "settings")), (key,)
    )
    return default if row is None else row["value"]


def set_setting(
    conn: psycopg.Connection,
    key: str,
    value: Any,
    *,
    by: str | None = None,
    cfg: MigrationConfig | None = None,
) -> None:
    """Upsert a setting (no commit: the caller decides the transaction, e.g. the cutoff switch)."""
    cfg = cfg or load_config()
    q = load_sql("ledger/02_upsert_setting.sql", settings=state_table(cfg, "settings"))
    conn.execute(q, {"key": key, "value": Jsonb(value), "updated_by": by})


def dumps(obj: Any) -> str:
    return json.dumps(obj, default=str, sort_keys=True)


def worker() -> dict[str, Any]:
    """Where a step runs, kept in its row while it is ``started``: a row whose process is gone
    (killed worker, OOM) then reads as interrupted, not as running (``status.current_phase``)."""
    return {"host": socket.gethostname(), "pid": os.getpid()}


def worker_alive(info: dict[str, Any] | None) -> bool | None:
    """Is the process a started row names still there? None when unknown (another host, no record)."""
    if not info or info.get("host") != socket.gethostname() or not info.get("pid"):
        return None
    try:
        os.kill(int(info["pid"]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


@contextlib.contextmanager
def step(
    dsn: str,
    phase: str,
    name: str,
    ctx: RunContext | None = None,
    cfg: MigrationConfig | None = None,
    details: dict[str, Any] | None = None,
) -> Iterator[dict[str, Any]]:
    """Record ``phase``/``name`` as started; yield a dict the body fills; then ``succeeded`` with
    it, or ``failed`` with the error (and re-raise). The one way a step is ledgered: the phases,
    the CLI and the Airflow tasks all use it (directly or as :func:`ledgered`)."""
    cfg = cfg or load_config()
    out: dict[str, Any] = dict(details or {})
    with connection(dsn) as conn:
        ensure_state_schema(conn, cfg)
        row_id = record(
            conn, phase, name, "started", ctx, {**out, "worker": worker()}, finished=False, cfg=cfg
        )
    try:
        yield out
    except BaseException as exc:
        with connection(dsn) as conn:
            if state_schema_exists(conn, cfg):  # a rollback may have dropped it
                finish(conn, row_id, "failed", {"error": f"{type(exc).__name__}: {exc}"[:2000]}, cfg=cfg)
        raise
    with connection(dsn) as conn:
        if state_schema_exists(conn, cfg):
            finish(conn, row_id, "succeeded", json.loads(dumps(out)), cfg=cfg)


class LedgeredStep(Protocol):
    """A phase step made by :func:`ledgered`: ``fn(dsn, cfg, ctx, **kw) -> dict``, named by ``step``."""

    step: str

    def __call__(
        self, dsn: str, cfg: MigrationConfig | None = None, ctx: RunContext | None = None, **kw: Any
    ) -> dict[str, Any]: ...


def ledgered(phase: str, name: str) -> Callable[[Callable[..., dict[str, Any]]], LedgeredStep]:
    """:func:`step` as a decorator of ``fn(dsn, cfg, ctx, **kw) -> dict``: the keyword arguments are
    the started row's details, the returned dict the succeeded row's."""

    def deco(fn: Callable[..., dict[str, Any]]) -> LedgeredStep:
        @functools.wraps(fn)
        def wrapper(
            dsn: str, cfg: MigrationConfig | None = None, ctx: RunContext | None = None, **kw: Any
        ) -> dict[str, Any]:
            cfg = cfg or load_config()
            ctx = ctx or RunContext()
            with step(dsn, phase, name, ctx, cfg, dict(kw)) as out:
                out.update(fn(dsn, cfg, ctx, **kw) or {})
            return out

        # functools.wraps returns a plain function; the step name is the attribute set here
        stepped = cast(LedgeredStep, wrapper)
        stepped.step = name
        return stepped

    return deco
