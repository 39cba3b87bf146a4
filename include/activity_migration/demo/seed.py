"""Seed the demo application: schema, application data and years of activity history.

The seeder builds, in an empty database, what the migration starts from: a Supabase-like
base (``auth``, roles, RLS), the 18 application tables with their 64 legacy logging
triggers, realistic application data, and ``rows`` rows of history inserted straight into
``public.activity_logs`` with set-based SQL (``include/sql/demo/``).

Steps, each its own transaction:

1. schema + application data + the seed marker, atomically (first seed only);
2. history in batches of ``batch_rows`` (bounded memory and WAL per transaction), drawn
   from a pool of ready-made entries per application row, ``writers`` connections side by
   side;
3. activity_logs' primary key and ``(user_id, created_at)`` index, built CONCURRENTLY after
   the bulk insert (three times faster than maintaining them row by row, and a workload
   running beside the seed is never blocked), then ANALYZE.

A database that is not empty and does not carry the marker is refused; a database that
carries it gets more history (the schema, which later phases change, is left alone).
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from typing import Any, Callable

import psycopg
from psycopg import sql

from ..db import connect, load_sql, run_ddl_with_retry, scalar
from ..errors import MigrationError
from .app import APP_TABLES, KEY_TYPES, SEED_MARKER, app_row_counts

log = logging.getLogger(__name__)

DEFAULT_BATCH_ROWS = 500_000
# Two connections insert batches side by side: one INSERT ... SELECT keeps one core busy.
DEFAULT_WRITERS = 2
HISTORY_SPAN_DAYS = 730
ODD_ROWS = 22  # 12_insert_odd_history.sql: 5 large, 12 unicode, 5 system rows

# One seeder at a time per database (two concurrent first seeds would both see "empty").
_SEED_LOCK_KEY = 0x5EED_AC71

_SCHEMA_FILES = (
    "demo/01_create_supabase_base.sql",
    "demo/02_create_activity_logs.sql",
    "demo/03_create_app_tables.sql",
    "demo/04_create_helper_functions.sql",
    "demo/05_create_logging_functions.sql",
    "demo/06_create_triggers.sql",
    "demo/07_enable_row_level_security.sql",
)
_KEY_INDEX = "activity_logs_pkey"
_FEED_INDEX = "activity_logs_user_id_created_at_idx"

_DEFAULT_SCHEMAS = ("public", "pg_catalog", "information_schema", "pg_toast")


def _sql_text(relative: str) -> sql.Composable:
    """A SQL file of include/sql/ as a query (braces stay literal, %-placeholders take params)."""
    return load_sql(relative)


def database_state(conn: psycopg.Connection) -> tuple[str, str]:
    """Classify a database for seeding: ``("empty"|"seeded"|"foreign", detail)``."""
    marker = scalar(conn, "SELECT obj_description(to_regnamespace('auth'), 'pg_namespace')")
    if marker == SEED_MARKER:
        return "seeded", "carries the demo seed marker"
    schemas = [
        r[0]
        for r in conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname <> ALL(%s) "
            "AND nspname NOT LIKE 'pg\\_temp\\_%%' AND nspname NOT LIKE 'pg\\_toast\\_temp\\_%%' ORDER BY 1",
            (list(_DEFAULT_SCHEMAS),),
        ).fetchall()
    ]
    relations = [
        r[0]
        for r in conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') ORDER BY 1 LIMIT 5"
        ).fetchall()
    ]
    if not schemas and not relations:
        return "empty", "no tables in public, no extra schemas"
    parts = []
    if relations:
        parts.append(f"tables in public such as {', '.join(relations)}")
    if schemas:
        parts.append(f"schemas {', '.join(schemas)}")
    return "foreign", " and ".join(parts)


def activity_logs_key_type(conn: psycopg.Connection) -> str | None:
    """``uuid`` or ``bigint`` (the type of activity_logs.id), None when the table is gone."""
    return scalar(
        conn,
        """
        SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
        WHERE a.attrelid = to_regclass('public.activity_logs') AND a.attname = 'id' AND NOT a.attisdropped""",
    )


def _create_schema_and_app_data(conn: psycopg.Connection, key_type: str, counts: dict[str, int]) -> None:
    with conn.cursor() as cur:
        for relative in _SCHEMA_FILES:
            if relative.endswith("02_create_activity_logs.sql"):
                cur.execute(load_sql(relative, key_column=sql.SQL(KEY_TYPES[key_type])))
            else:
                cur.execute(_sql_text(relative))
        settings = dict(counts, slots=max(v for k, v in counts.items() if k != "customers"))
        for name, value in settings.items():
            cur.execute("SELECT set_config(%s, %s, true)", (f"demo_seed.{name}", str(int(value))))
        cur.execute(_sql_text("demo/08_insert_app_data.sql"))
        cur.execute(_sql_text("demo/09_mark_demo_seed.sql"))
        cur.execute(
            _sql_text("demo/16_create_realtime_schema.sql")
        )  # Supabase-like realtime, a few subscriptions


def _build_concurrently(conn: psycopg.Connection, relative: str, index_name: str) -> None:
    """Run one CREATE INDEX CONCURRENTLY file; first drop an INVALID leftover of the same name."""
    valid = scalar(
        conn,
        "SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass(%s)",
        (f"public.{index_name}",),
    )
    if valid is False:
        log.warning("dropping the INVALID index %s left by an interrupted build", index_name)
        conn.execute(
            sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.Identifier("public", index_name))
        )
    conn.execute(_sql_text(relative))


def build_activity_logs_keys(dsn: str, conn: psycopg.Connection) -> None:
    """Give activity_logs its primary key and (user_id, created_at) index without blocking writers.

    Both indexes are built CONCURRENTLY; the primary key then adopts the unique index, a
    catalog-only change taken under a short lock_timeout with retries.
    """
    conn.autocommit = True
    conn.execute("SET maintenance_work_mem = '256MB'")  # sorts 1M keys in memory: about 30 percent faster
    _build_concurrently(conn, "demo/13_create_activity_logs_key_index.sql", _KEY_INDEX)
    run_ddl_with_retry(dsn, [_sql_text("demo/14_add_activity_logs_primary_key.sql")], lock_timeout_ms=2000)
    _build_concurrently(conn, "demo/15_create_activity_logs_feed_index.sql", _FEED_INDEX)


def _write_history(
    dsn: str,
    conn: psycopg.Connection,
    choices: int,
    rows: int,
    batch_rows: int,
    writers: int,
    report: Callable[[int], None],
) -> None:
    """Insert ``rows`` history rows in batches of ``batch_rows``, one transaction each.

    ``conn`` (whose session already holds the pool) writes, and so do ``writers - 1`` more
    connections with their own pools, taking batches from a shared queue. The first error
    stops every writer after its current batch and is raised.
    """
    sizes = collections.deque(
        [batch_rows] * (rows // batch_rows) + ([rows % batch_rows] if rows % batch_rows else [])
    )
    extra = [connect(dsn) for _ in range(max(0, min(writers, len(sizes)) - 1))]
    lock = threading.Lock()
    errors: list[BaseException] = []
    done = 0
    batch_text = _sql_text("demo/11_insert_activity_history.sql")

    def work(c: psycopg.Connection, pool_size: int | None) -> None:
        nonlocal done
        try:
            if pool_size is None:
                with c.transaction():
                    c.execute(_sql_text("demo/10_prepare_history_pool.sql"))
                    pool_size = int(scalar(c, "SELECT count(*) FROM pg_temp.seed_choices"))
            while True:
                with lock:
                    if errors or not sizes:
                        return
                    n = sizes.popleft()
                with c.transaction():
                    c.execute(batch_text, {"rows": n, "choices": pool_size, "span_days": HISTORY_SPAN_DAYS})
                with lock:
                    done += n
                    report(done)
        except BaseException as exc:  # handed to the caller below
            with lock:
                errors.append(exc)

    threads = [
        threading.Thread(target=work, args=(c, None), name=f"seed-writer-{i + 1}", daemon=True)
        for i, c in enumerate(extra)
    ]
    try:
        for th in threads:
            th.start()
        work(conn, choices)
        for th in threads:
            th.join()
    finally:
        for c in extra:
            c.close()
    if errors:
        raise errors[0]


def seed(
    dsn: str,
    rows: int,
    *,
    key_type: str = "uuid",
    app_rows: int | dict[str, int] | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    writers: int = DEFAULT_WRITERS,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Seed the demo application into ``dsn`` and add ``rows`` rows of activity history.

    A first seed needs an empty database; a database seeded before (it carries the marker)
    gets ``rows`` more history rows and keeps its schema, key type and application data.

    :param dsn: libpq connection string of the target database.
    :param rows: history rows to insert into ``public.activity_logs`` (0 for schema and data only).
    :param key_type: ``uuid`` or ``bigint``: the type of ``activity_logs.id`` on a first seed.
    :param app_rows: number of users (int) or per-table counts (dict) of application data;
        default: a few hundred users, growing gently with ``rows``.
    :param batch_rows: history rows per INSERT ... SELECT transaction.
    :param writers: connections inserting history batches side by side (used when there
        are at least two batches).
    :param progress: called with one line per step (default: the module logger).
    :returns: ``rows``, ``seconds``, ``rows_per_second``, ``key_type``, ``reseeded``, ``app_rows``.
    """
    say = progress or log.info
    if not isinstance(rows, int) or isinstance(rows, bool) or rows < 0:
        raise MigrationError(f"rows must be a non-negative integer, got {rows!r}")
    if key_type not in KEY_TYPES:
        raise MigrationError(f"key_type must be one of {sorted(KEY_TYPES)}, got {key_type!r}")
    if not isinstance(batch_rows, int) or batch_rows < 1:
        raise MigrationError(f"batch_rows must be a positive integer, got {batch_rows!r}")
    if not isinstance(writers, int) or writers < 1:
        raise MigrationError(f"writers must be a positive integer, got {writers!r}")

    started = time.monotonic()
    conn = connect(dsn)
    try:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SEED_LOCK_KEY,))
            state, detail = database_state(conn)
            if state == "foreign":
                raise MigrationError(
                    f"refusing to seed a non-empty database that the demo seeder did not create ({detail}); "
                    f"seed an empty database, or one marked by an earlier seed (COMMENT ON SCHEMA auth IS "
                    f"'{SEED_MARKER}')"
                )
            reseeded = state == "seeded"
            counts: dict[str, int] = {}
            if reseeded:
                existing = activity_logs_key_type(conn)
                if existing is None:
                    raise MigrationError(
                        "the database carries the demo seed marker but public.activity_logs is gone "
                        "(cleaned up by phase 6?); there is nowhere to add history"
                    )
                if existing != key_type:
                    say(
                        f"activity_logs.id is {existing} in this seeded database; --key-type {key_type} is "
                        "ignored"
                    )
                key_type = existing
                say("database already seeded: adding history only (schema and application data untouched)")
            else:
                counts = app_row_counts(rows, app_rows)
                say(
                    f"creating schema, 18 tables, 64 logging triggers and application data "
                    f"({counts['users']} users, {counts['customers']} customers, key type {key_type})"
                )
                _create_schema_and_app_data(conn, key_type, counts)
        schema_seconds = time.monotonic() - started

        history_started = time.monotonic()
        with conn.transaction():
            conn.execute(_sql_text("demo/10_prepare_history_pool.sql"))
            choices = int(scalar(conn, "SELECT count(*) FROM pg_temp.seed_choices"))
        if choices == 0 and rows > 0:
            raise MigrationError(
                "the demo application has no rows to draw history from (application tables are empty)"
            )
        inserted = 0
        if rows:
            odd = min(ODD_ROWS, rows)
            with conn.transaction():
                conn.execute(_sql_text("demo/12_insert_odd_history.sql"), {"rows": odd, "choices": choices})
            inserted += odd
        if rows > inserted:
            _write_history(
                dsn,
                conn,
                choices,
                rows - inserted,
                batch_rows,
                writers,
                lambda done: say(
                    f"history: {inserted + done:,}/{rows:,} rows "
                    f"({(inserted + done) / (time.monotonic() - history_started):,.0f} rows/s)"
                ),
            )
        history_seconds = time.monotonic() - history_started

        say("building activity_logs' primary key and (user_id, created_at) index concurrently; analyzing")
        build_activity_logs_keys(dsn, conn)
        conn.execute(
            sql.SQL("ANALYZE {}").format(
                sql.SQL(", ").join(
                    [sql.Identifier("public", "activity_logs"), sql.Identifier("auth", "users")]
                    + [sql.Identifier("public", t) for t in APP_TABLES]
                )
            )
        )
        total_rows = int(scalar(conn, "SELECT count(*) FROM public.activity_logs"))
    finally:
        conn.close()

    seconds = time.monotonic() - started
    result = {
        "rows": rows,
        "seconds": round(seconds, 3),
        "rows_per_second": round(rows / seconds, 1) if seconds > 0 else None,
        "history_seconds": round(history_seconds, 3),
        "schema_seconds": round(schema_seconds, 3),
        "key_type": key_type,
        "reseeded": reseeded,
        "app_rows": counts,
        "activity_logs_rows": total_rows,
    }
    say(
        f"seeded {rows:,} history rows in {seconds:.1f} s ({result['rows_per_second'] or 0:,.0f} rows/s); "
        f"activity_logs now holds {total_rows:,} rows"
    )
    return result
