"""Read load signals from Postgres; judge nothing.

Each function samples one signal and returns a number (or ``None`` when the signal is not
available on this server). Deciding what a value means is the throttle's job
(``activity_migration.backfill.throttle``), as gh-ost separates its inspector from its
throttler.

Our own sessions carry an application_name starting with ``activity-migration`` (see
``db.APPLICATION_NAME``) and are excluded: the backfill must not throttle on itself.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import psycopg

from .db import APPLICATION_NAME, load_sql, scalar
from .errors import MigrationError
from .perf import statement_stats_available

log = logging.getLogger(__name__)

OWN_SESSIONS = APPLICATION_NAME + "%"

# Loaded once: the throttle samples these before every chunk.
_ACTIVE_BACKENDS = load_sql("catalog/04_count_active_backends.sql")
_LOCK_WAITERS = load_sql("catalog/05_count_lock_waiters.sql")
_LONGEST_LOCK_WAIT = load_sql("catalog/06_select_longest_lock_wait.sql")
_WRITE_STATEMENT_TIME = load_sql("catalog/07_sum_write_statement_time.sql")


def enable_statement_stats(dsn: str) -> bool:
    """Create pg_stat_statements in the database, as Supabase has it, where the server preloads the
    library (the embedded server does when it is installed): the latency baselines and the
    backfill's controller then measure the application's own writes instead of the probe.
    Returns whether it is usable (installed and loaded). For the demo and the benchmarks; the
    migration itself never creates an extension in the application's database."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        preload = str(scalar(conn, "SHOW shared_preload_libraries"))
        if "pg_stat_statements" in preload:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        return statement_stats_available(conn)


def active_backends(conn: psycopg.Connection) -> int:
    """Client backends running a statement right now, other than ours."""
    return int(scalar(conn, _ACTIVE_BACKENDS, (OWN_SESSIONS,)))


def lock_waiters(conn: psycopg.Connection) -> int:
    """Sessions (any application) waiting for a heavyweight lock right now."""
    return int(scalar(conn, _LOCK_WAITERS))


def longest_lock_wait_s(conn: psycopg.Connection, *, others_only: bool = False) -> float:
    """Seconds the longest current heavyweight-lock wait has lasted (``pg_locks.waitstart``; 0 when none).

    :param others_only: count only sessions that are not ours (the application's waits)
    """
    return float(scalar(conn, _LONGEST_LOCK_WAIT, (others_only, OWN_SESSIONS)) or 0.0)


def replication_lag_s(conn: psycopg.Connection) -> float | None:
    """The largest replay lag of any streaming replica in seconds; ``None`` without replicas."""
    if not scalar(conn, "SELECT count(*) FROM pg_stat_replication"):
        return None
    return float(
        scalar(conn, "SELECT coalesce(max(extract(epoch FROM replay_lag)), 0) FROM pg_stat_replication")
    )


@dataclass
class WriteLatencySampler:
    """Mean execution time of the application's INSERT/UPDATE/DELETE since the previous sample.

    Reads ``pg_stat_statements`` when the extension is installed in this database AND
    loaded (``shared_preload_libraries``); otherwise the signal is skipped (``None``),
    logged once. Statements naming the migration's state schema are ours and excluded.
    """

    state_schema: str
    available: bool | None = None
    _last: tuple[float, float] | None = field(default=None, repr=False)

    def _probe(self, conn: psycopg.Connection) -> bool:
        if not scalar(conn, "SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'"):
            log.info("pg_stat_statements is not installed: the write-latency signal is skipped")
            return False
        try:
            with conn.transaction():
                scalar(conn, "SELECT count(*) FROM pg_stat_statements LIMIT 1")
        except psycopg.Error as exc:
            log.info(
                "pg_stat_statements is installed but not usable (%s): the write-latency signal is skipped",
                str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
            )
            return False
        return True

    def sample(self, conn: psycopg.Connection) -> float | None:
        """Milliseconds per write statement since the last call.

        ``None`` on the first call or when unavailable.
        """
        if self.available is None:
            self.available = self._probe(conn)
        if not self.available:
            return None
        row = conn.execute(_WRITE_STATEMENT_TIME, ("%" + self.state_schema + "%",)).fetchone()
        if row is None:
            raise MigrationError(
                "expected one row, got none: include/sql/catalog/07_sum_write_statement_time.sql"
            )
        calls, total_ms = float(row[0]), float(row[1])
        previous, self._last = self._last, (calls, total_ms)
        if previous is None or calls <= previous[0]:
            return None
        return (total_ms - previous[1]) / (calls - previous[0])


def snapshot(conn: psycopg.Connection, latency: WriteLatencySampler | None = None) -> dict[str, Any]:
    """All signals at once, as a dict (for logs, perf samples and the throttle)."""
    return {
        "active_backends": active_backends(conn),
        "lock_waiters": lock_waiters(conn),
        "replication_lag_s": replication_lag_s(conn),
        "write_latency_ms": latency.sample(conn) if latency is not None else None,
    }
