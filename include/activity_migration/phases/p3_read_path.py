"""Phase 3: the read path the new EventFeed needs, and the switch the app reads.

What it creates (all reversible by :func:`rollback`):

- ``public.event_feed(...)``: keyset-paginated feed over ``events``, SECURITY INVOKER (RLS
  applies), page size 1..200, filters by customer, entity and category;
- ``events_feed_keyset_idx`` on ``events (occurred_at DESC, id DESC)``, built CONCURRENTLY
  (the per-user case uses phase 1's actor index through the RLS predicate);
- ``public.activity_logs_compat``: a view in the old ``activity_logs`` shape (column names,
  order and types read from the catalog) over ``events``, ``security_invoker``;
- ``public.activity_read_source()``: what the app's activity UI reads, from the setting
  ``read_source`` (``activity_logs`` | ``events``);
- ``events`` added to the ``supabase_realtime`` publication when it exists (created first
  on the demo database only).

The read-source flip to ``events`` happens only after :func:`read_parity` passed: for
sample users, the first pages of the old query and of the new feed, each run as that user
under RLS, show the same activities.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from psycopg import sql

from .. import ledger, privileges
from ..catalog import table_columns
from ..config import MigrationConfig, load_config
from ..db import (
    connection,
    load_sql,
    run_ddl_with_retry,
    run_locked,
    run_sql_file,
    scalar,
    server_version_num,
)
from ..errors import GateClosed, MigrationError, PreflightError
from ..ledger import RunContext
from ._common import relation_kind  # noqa: F401 - p6 imports it from here
from .p3_compat_view import (
    _EVENT_EXPR,  # noqa: F401 - p6_rollback imports it from here
    COMPAT_VIEW,
    create_compat_view,
)
from .p3_parity import (  # noqa: F401
    APP_ROLE,
    CUTOFF_KEYS,
    FEED_FUNCTION,
    PHASE,
    NotYetInEvents,
    ParitySettings,
    _feed_rows,
    _old_rows,
    as_app_user,
    backfill_complete,
    compare_user,
    describe_differences,
    dual_write_cutoff,
    event_type_for,
    quarantined_ids,
    read_parity,
    require_read_parity,
    sample_users,
)
from .p3_realtime import (
    PUBLICATION_SETTING,
    forget_realtime_setting,
    publication_state,
    setup_realtime,
    undo_realtime_statements,
)

log = logging.getLogger(__name__)

FEED_INDEX = "events_feed_keyset_idx"
READ_SOURCE_FUNCTION = "public.activity_read_source()"
READ_SOURCE_KEY = "read_source"
READ_SOURCES = ("activity_logs", "events")
DEMO_MARKER = "activity-migration demo seed"


# --------------------------------------------------------------------------- catalog helpers
def legacy_key_type(conn: psycopg.Connection, cfg: MigrationConfig) -> str:
    cols = dict(table_columns(conn, cfg.target_schema, cfg.target_table))
    if "legacy_activity_log_id" not in cols:
        raise PreflightError(f"{cfg.target} has no legacy_activity_log_id column: is phase 1 applied?")
    return cols["legacy_activity_log_id"]


# --------------------------------------------------------------------------- preflight / apply
def preflight(conn: psycopg.Connection, cfg: MigrationConfig | None = None) -> dict[str, Any]:
    """Check that phase 3 may run: events exists (phase 1), the source table exists, roles exist."""
    cfg = cfg or load_config()
    problems = []
    if relation_kind(conn, cfg.target_schema, cfg.target_table) != "r":
        problems.append(f"{cfg.target} does not exist: run migration_p1_infrastructure first")
    kind = relation_kind(conn, cfg.source.schema, cfg.source.table)
    if kind is None:
        problems.append(f"{cfg.source_table} does not exist")
    if not ledger.state_schema_exists(conn, cfg):
        problems.append(
            f"state schema {cfg.state_schema} does not exist: run migration_p1_infrastructure first"
        )
    for role in (APP_ROLE, "service_role"):
        if not scalar(conn, "SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)):
            problems.append(f"role {role} does not exist (the feed and views are granted to it)")
    if problems:
        raise PreflightError("phase 3 preflight failed: " + "; ".join(problems))
    return {
        "events": cfg.target,
        "source": cfg.source_table,
        "source_kind": kind,
        "server_version_num": server_version_num(conn),
    }


def apply(dsn: str, cfg: MigrationConfig | None = None, ctx: RunContext | None = None) -> dict[str, Any]:
    """Creates the feed, its index, the compat view, the read-source function, real time. Idempotent.

    The read source is left as it is (``activity_logs`` when unset): :func:`switch_read_source`
    flips it after the parity check.
    """
    cfg = cfg or load_config()
    with ledger.step(dsn, PHASE, "apply", ctx, cfg) as out:
        with connection(dsn) as conn:
            out["preflight"] = preflight(conn, cfg)
            source_cols = table_columns(conn, cfg.source.schema, cfg.source.table)
        _build_feed_index(dsn, cfg)
        out["index"] = f"{cfg.target_schema}.{FEED_INDEX}"
        out["compat_view"] = _create_read_path(dsn, cfg, source_cols)
        out["feed_function"] = FEED_FUNCTION
        out["read_source_function"] = READ_SOURCE_FUNCTION
        out["realtime"] = setup_realtime(dsn, cfg)
    return out


def _build_feed_index(dsn: str, cfg: MigrationConfig) -> None:
    """The feed's keyset index, CONCURRENTLY (autocommit)."""
    events = sql.Identifier(cfg.target_schema, cfg.target_table)
    # A failed concurrent build leaves an INVALID index that IF NOT EXISTS would keep: drop it
    # so the retry rebuilds it.
    with connection(dsn, autocommit=True) as conn:
        valid = scalar(
            conn, load_sql("p3_read_path/13_select_index_valid.sql"), (cfg.target_schema, FEED_INDEX)
        )
        if valid is False:
            conn.execute(
                sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(
                    sql.Identifier(cfg.target_schema, FEED_INDEX)
                )
            )
    run_ddl_with_retry(
        dsn,
        [
            sql.SQL("CREATE INDEX CONCURRENTLY IF NOT EXISTS {} ON {} (occurred_at DESC, id DESC)").format(
                sql.Identifier(FEED_INDEX), events
            )
        ],
        transactional=False,
        **cfg.safety.ddl_retry,
    )


def _create_read_path(dsn: str, cfg: MigrationConfig, source_cols: list[tuple[str, str]]) -> dict[str, Any]:
    """The feed function, the compat view, the read-source function and their grants; the
    read source set to ``activity_logs`` when unset. Returns the view's description."""
    events = sql.Identifier(cfg.target_schema, cfg.target_table)

    # Functions and the view touch no application table: one short transaction.
    def read_path(conn: psycopg.Connection) -> dict[str, Any]:
        run_sql_file(
            conn,
            "p3_read_path/02_create_event_feed.sql",
            events=events,
            events_name=sql.Literal(cfg.target),
        )
        view = create_compat_view(conn, cfg, "public", COMPAT_VIEW, source_cols)
        run_sql_file(conn, "p3_read_path/04_create_read_source.sql", state=cfg.state_schema)
        privileges.apply_grants(conn, cfg, "event_feed", "activity_read_source")
        if ledger.get_setting(conn, READ_SOURCE_KEY, None, cfg=cfg) is None:
            ledger.set_setting(conn, READ_SOURCE_KEY, "activity_logs", by=PHASE, cfg=cfg)
        return view

    return run_locked(dsn, read_path, **cfg.safety.ddl_retry, what="the read path's functions and view")


# --------------------------------------------------------------------------- read source
def get_read_source(conn: psycopg.Connection, cfg: MigrationConfig | None = None) -> str:
    cfg = cfg or load_config()
    value = ledger.get_setting(conn, READ_SOURCE_KEY, "activity_logs", cfg=cfg)
    return value if value in READ_SOURCES else "activity_logs"


def set_read_source(
    dsn: str,
    value: str,
    cfg: MigrationConfig | None = None,
    ctx: RunContext | None = None,
    *,
    parity_report: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Set the read source. Flipping to ``events`` needs a passed parity report (the gate)."""
    cfg = cfg or load_config()
    if value not in READ_SOURCES:
        raise MigrationError(f"read_source must be one of {READ_SOURCES}, got {value!r}")
    if value == "events" and not (parity_report and parity_report.get("passed")):
        raise GateClosed("read_source may be flipped to 'events' only after a passed read-path parity check")
    with ledger.step(dsn, PHASE, "switch_read_source", ctx, cfg) as out:
        with connection(dsn) as conn:
            before = get_read_source(conn, cfg)
            ledger.set_setting(
                conn, READ_SOURCE_KEY, value, by=(ctx.actor if ctx else None) or PHASE, cfg=cfg
            )
            conn.commit()
            seen = (
                scalar(conn, "SELECT public.activity_read_source()")
                if scalar(conn, "SELECT to_regprocedure(%s) IS NOT NULL", (READ_SOURCE_FUNCTION,))
                else value
            )
        out.update({"from": before, "to": value, "app_reads": seen})
    return out


# --------------------------------------------------------------------------- verify / rollback
def verify(dsn: str, cfg: MigrationConfig | None = None) -> dict[str, Any]:
    """Check that every phase-3 object exists and behaves (page size bound, read source readable)."""
    cfg = cfg or load_config()
    problems = []
    with connection(dsn) as conn:
        for fn in (FEED_FUNCTION, READ_SOURCE_FUNCTION):
            if not scalar(conn, "SELECT to_regprocedure(%s) IS NOT NULL", (fn,)):
                problems.append(f"{fn} missing")
        if relation_kind(conn, "public", COMPAT_VIEW) != "v":
            problems.append(f"view public.{COMPAT_VIEW} missing")
        if not scalar(
            conn, load_sql("p3_read_path/13_select_index_valid.sql"), (cfg.target_schema, FEED_INDEX)
        ):
            problems.append(f"index {FEED_INDEX} missing or invalid")
        if not problems:
            try:
                with conn.transaction():
                    conn.execute("SELECT * FROM public.event_feed(p_page_size => 201)")
                problems.append("event_feed accepted page size 201")
            except psycopg.errors.InvalidParameterValue:
                pass
        read_source = scalar(conn, "SELECT public.activity_read_source()") if not problems else None
        pub = publication_state(conn, cfg)
    if problems:
        raise MigrationError("phase 3 verify failed: " + "; ".join(problems))
    return {"read_source": read_source, "realtime": pub}


def rollback(dsn: str, cfg: MigrationConfig | None = None, ctx: RunContext | None = None) -> dict[str, Any]:
    """Flip the read source back to ``activity_logs`` and remove everything phase 3 created. Idempotent.

    Refuses while ``public.activity_logs`` is phase 6's compatibility view (the old table is
    archived): roll phase 6 back first.
    """
    cfg = cfg or load_config()
    with ledger.step(dsn, PHASE, "rollback", ctx, cfg) as out:
        with connection(dsn) as conn:
            if relation_kind(conn, cfg.source.schema, cfg.source.table) == "v":
                raise MigrationError(
                    f"{cfg.source_table} is a view (phase 6 cleanup is applied): "
                    "roll back p6_cleanup before p3_read_path"
                )
            state = ledger.state_schema_exists(conn, cfg)
            if state:
                ledger.set_setting(
                    conn,
                    READ_SOURCE_KEY,
                    "activity_logs",
                    by=(ctx.actor if ctx else None) or "rollback",
                    cfg=cfg,
                )
                conn.commit()
            done = (ledger.get_setting(conn, PUBLICATION_SETTING, {}, cfg=cfg) or {}) if state else {}
            pub = publication_state(conn, cfg)
        out["read_source"] = "activity_logs"
        _drop_read_path(dsn, cfg, undo_realtime_statements(cfg, done, pub))
        if state:
            forget_realtime_setting(dsn, cfg)
        out["removed"] = ["event_feed", "activity_read_source", f"public.{COMPAT_VIEW}", FEED_INDEX]
        out["publication"] = {
            "dropped_events": bool(done.get("added") and pub["member"]),
            "dropped_publication": bool(done.get("created") and pub["exists"]),
        }
    return out


def _drop_read_path(dsn: str, cfg: MigrationConfig, realtime_undo: list[sql.Composable]) -> None:
    """``realtime_undo``, the view and the functions in one transaction, then the index CONCURRENTLY."""
    stmts = list(realtime_undo)
    stmts.append(sql.SQL("DROP VIEW IF EXISTS {}").format(sql.Identifier("public", COMPAT_VIEW)))
    stmts.append(
        sql.SQL("DROP FUNCTION IF EXISTS public.event_feed(timestamptz, uuid, int, uuid, text, text, text)")
    )
    stmts.append(sql.SQL("DROP FUNCTION IF EXISTS public.activity_read_source()"))
    run_ddl_with_retry(dsn, stmts, **cfg.safety.ddl_retry)
    run_ddl_with_retry(
        dsn,
        [
            sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(
                sql.Identifier(cfg.target_schema, FEED_INDEX)
            )
        ],
        transactional=False,
        **cfg.safety.ddl_retry,
    )


# The phase's last step: every privilege on the migration's objects as privileges.py lists it.
privilege_audit = ledger.ledgered(PHASE, "privilege_audit")(privileges.audit_step)


def is_applied(conn: psycopg.Connection) -> bool:
    """Catalog evidence that phase 3 is in place (used by the rollback planner)."""
    return bool(
        scalar(
            conn,
            "SELECT to_regprocedure(%s) IS NOT NULL OR to_regclass(%s) IS NOT NULL",
            (FEED_FUNCTION, f"public.{COMPAT_VIEW}"),
        )
    )


def read_path_section(conn: psycopg.Connection, cfg: MigrationConfig) -> dict[str, Any]:
    """Status section: what the app reads, whether the feed exists, real time."""
    applied = is_applied(conn)
    return {
        "read_source": get_read_source(conn, cfg)
        if ledger.state_schema_exists(conn, cfg)
        else "activity_logs",
        "feed": "present" if applied else "absent",
        "realtime": publication_state(conn, cfg),
    }
