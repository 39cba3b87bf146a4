"""Connections, SQL file loading and safe execution helpers.

Every SQL file under ``include/sql`` opens with a comment saying what it does, whether it
is idempotent and which lock it takes. Values always travel as bound parameters; the few
identifiers that vary (schema names, key types) are substituted with ``psycopg.sql``
so they are quoted, never pasted in.
"""

from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence, cast

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from .errors import MigrationError

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SQL_ROOT = PROJECT_ROOT / "include" / "sql"

# The application name shows in pg_stat_activity, so an operator can tell our sessions
# from the application's (and the throttle can exclude them from "app load").
APPLICATION_NAME = "activity-migration"

# Connection parameters that carry a secret: shown as *** wherever a DSN is shown.
_SECRET_KEYS = ("password", "sslpassword")


def redact(dsn: str) -> str:
    """Return ``dsn`` with any secret replaced, safe for logs and error messages.

    The DSN is parsed by libpq's rules (``psycopg.conninfo``; URI or ``key=value`` form, quoted
    values with spaces included) and rebuilt in ``key=value`` form. A string libpq cannot parse
    is not shown at all: it may hold a secret in a shape no pattern foresees.
    """
    try:
        params = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "<unparseable connection string, not shown>"
    for key in _SECRET_KEYS:
        if params.get(key):
            params[key] = "***"
    return psycopg.conninfo.make_conninfo("", **params)


def connect(
    dsn: str,
    *,
    autocommit: bool = False,
    application_name: str = APPLICATION_NAME,
    connect_timeout: int = 10,
    **kwargs: Any,
) -> psycopg.Connection:
    """Open a psycopg connection, turning a connection failure into a clear MigrationError."""
    try:
        return psycopg.connect(
            dsn,
            autocommit=autocommit,
            application_name=application_name,
            connect_timeout=connect_timeout,
            **kwargs,
        )
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MigrationError(f"cannot connect to the database at {redact(dsn)}: {first}") from None


@contextlib.contextmanager
def connection(dsn: str, **kwargs: Any) -> Iterator[psycopg.Connection]:
    conn = connect(dsn, **kwargs)
    try:
        yield conn
    finally:
        conn.close()


def sql_path(relative: str) -> Path:
    path = SQL_ROOT / relative
    if not path.is_file():
        raise MigrationError(f"SQL file missing: include/sql/{relative}")
    return path


_SQL_FILE_ATTR = "_activity_migration_sql_file"


def load_sql(relative: str, **identifiers: Any) -> sql.Composed:
    """Load ``include/sql/<relative>``; ``{name}`` placeholders are filled with ``identifiers``.

    Values passed as ``str`` become quoted identifiers; pass ``sql.SQL``/``sql.Literal``/
    ``sql.Identifier(schema, name)`` objects for anything else. Braces that are not a named
    placeholder stay literal.
    """
    stmt = compose_sql(sql_path(relative).read_text(), **identifiers)
    # Remembered for error messages only (fetch_row names the file a missing row came from).
    with contextlib.suppress(AttributeError):
        setattr(stmt, _SQL_FILE_ATTR, relative)
    return stmt


def compose_sql(text: str, **identifiers: Any) -> sql.Composed:
    """SQL ``text`` with its ``{name}`` placeholders filled, as ``load_sql`` fills a file's."""
    # Only the named placeholders are substituted; every other brace (JSON literals such as
    # '{}'::jsonb, regex quantifiers) is literal SQL.
    text = text.replace("{", "{{").replace("}", "}}")
    for name in identifiers:
        text = text.replace("{{" + name + "}}", "{" + name + "}")
    parts = {k: (sql.Identifier(v) if isinstance(v, str) else v) for k, v in identifiers.items()}
    return sql.SQL(text).format(**parts)


def run_sql_file(
    conn: psycopg.Connection, relative: str, params: Mapping[str, Any] | None = None, **identifiers: Any
) -> None:
    """Execute a (multi-statement) SQL file on ``conn``."""
    stmt = load_sql(relative, **identifiers)
    with conn.cursor() as cur:
        cur.execute(stmt, params)


# What the helpers below accept: text, or SQL composed with psycopg.sql (load_sql, sql.SQL(...).format).
Query = str | sql.Composable
Params = Mapping[str, Any] | Sequence[Any] | None


def _executable(query: Query) -> Any:
    """``query`` as cursor.execute types it (psycopg's stubs name SQL and Composed, not Composable)."""
    return cast(Any, query)


def fetch_all(conn: psycopg.Connection, query: Query, params: Params = None) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(_executable(query), params)
        return cur.fetchall() if cur.description else []


def fetch_one(conn: psycopg.Connection, query: Query, params: Params = None) -> dict[str, Any] | None:
    rows = fetch_all(conn, query, params)
    return rows[0] if rows else None


def _describe(conn: psycopg.Connection, query: Query) -> str:
    """The SQL file ``query`` was loaded from, or the first 80 characters of its text."""
    relative = getattr(query, _SQL_FILE_ATTR, None)
    if relative:
        return f"include/sql/{relative}"
    try:
        text = query if isinstance(query, str) else query.as_string(conn)
    except Exception:  # only describing the query for an error message: never mask the real one
        text = repr(query)
    return " ".join(text.split())[:80]


def fetch_row(conn: psycopg.Connection, query: Query, params: Params = None) -> dict[str, Any]:
    """The first row of a query that always returns one (an aggregate, a lookup whose absence is a bug).

    No row raises MigrationError naming the query, instead of a TypeError where the row is indexed."""
    row = fetch_one(conn, query, params)
    if row is None:
        raise MigrationError(f"expected one row, got none: {_describe(conn, query)}")
    return row


def scalar(conn: psycopg.Connection, query: Query, params: Params = None) -> Any:
    with conn.cursor() as cur:
        cur.execute(_executable(query), params)
        row = cur.fetchone()
        return row[0] if row else None


_LOCK_ERRORS = (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected)


def run_locked(
    dsn: str,
    body: Callable[[psycopg.Connection], Any],
    *,
    lock_timeout_ms: int = 2000,
    attempts: int = 10,
    backoff_s: float = 0.5,
    autocommit: bool = False,
    what: str = "the DDL",
) -> Any:
    """Run ``body(conn)`` under ``lock_timeout`` on a fresh connection; retry when a lock is not granted.

    Online rule: DDL must never queue behind a long application transaction (and so block
    every writer that queues behind the DDL). A short ``lock_timeout`` makes it give up
    quickly instead; we wait a little and try again. ``body`` runs in one transaction that is
    committed when it returns (``autocommit=True``: each statement on its own, for
    ``CREATE INDEX CONCURRENTLY`` and ``REFRESH … CONCURRENTLY``). The session's lock_timeout
    is set (and committed) before ``body`` runs, so a body may commit or roll back its own
    transactions and keep it. Returns what ``body`` returns; ``what`` names the work in the
    error when every attempt waited too long.
    """
    last: Exception | None = None
    for attempt in range(1, attempts + 1):
        with connection(dsn, autocommit=autocommit) as conn:
            try:
                conn.execute(
                    sql.SQL("SET lock_timeout = {}").format(sql.Literal(f"{int(lock_timeout_ms)}ms"))
                )
                if not autocommit:
                    conn.commit()
                result = body(conn)
                if not autocommit:
                    conn.commit()
                return result
            except _LOCK_ERRORS as exc:
                last = exc
                log.warning(
                    "lock not granted within %s ms (attempt %s/%s); retrying",
                    lock_timeout_ms,
                    attempt,
                    attempts,
                )
                if not autocommit and not conn.closed:
                    conn.rollback()
                time.sleep(backoff_s * attempt)
    raise MigrationError(
        f"{what} could not take its locks within lock_timeout={lock_timeout_ms} ms after {attempts} attempts "
        f"(a long application transaction holds them?): {last}"
    )


def run_ddl_with_retry(
    dsn: str,
    statements: Sequence[sql.Composable | str],
    *,
    lock_timeout_ms: int = 2000,
    attempts: int = 10,
    backoff_s: float = 0.5,
    transactional: bool = True,
) -> None:
    """Run ``statements`` with :func:`run_locked`: in one transaction, or (``transactional=False``)
    each on its own in autocommit."""

    def body(conn: psycopg.Connection) -> None:
        with conn.cursor() as cur:
            for stmt in statements:
                cur.execute(_executable(stmt))

    run_locked(
        dsn,
        body,
        lock_timeout_ms=lock_timeout_ms,
        attempts=attempts,
        backoff_s=backoff_s,
        autocommit=not transactional,
    )


def server_version_num(conn: psycopg.Connection) -> int:
    return int(scalar(conn, "SHOW server_version_num"))
