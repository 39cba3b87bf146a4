"""Sample the write cost of a set of tables, and the events their writes produce; judge nothing.

Three sources, each usable alone:

* ``pg_stat_statements`` (when installed in the database and loaded): calls and total
  execution time of the INSERT/UPDATE/DELETE statements on the tables. Execution time
  includes the row triggers a statement fires, which is exactly the cost we remove. The
  mean over a window is the delta between two snapshots.
* ``pg_stat_user_tables``: cumulative tuple counters (n_tup_ins/upd/del), for write counts
  and throughput over a window. They include rolled-back tuples and reach the view up to
  about a second late (backends flush statistics when idle).
* a probe: ``writes`` single-row writes on each table (INSERT + DELETE pairs, or no-op
  UPDATEs of one row where a row cannot be made from defaults), timed one by one, inside a
  transaction that is always rolled back, as ``service_role`` (the role the application's
  server side writes as) or, where its policies refuse, as the migration's login. It gives a
  comparable before/after latency even when the application is quiet. Its statements carry the
  comment ``activity-migration probe`` so the statement statistics leave them out.

The phase module (``phases/p5_trigger_removal.py``) decides what the figures mean.
"""

from __future__ import annotations

import statistics
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from .config import MigrationConfig
from .db import fetch_all, load_sql, scalar
from .errors import MigrationError

PROBE_ROLE = "service_role"


def _split(table: str) -> tuple[str, str]:
    schema, _, name = table.partition(".")
    return schema, name


def write_counters(conn: psycopg.Connection, tables: list[str]) -> dict[str, Any]:
    """Cumulative (ins, upd, del) per table and the server clock: ``{"at": datetime, "tables": {...}}``."""
    conn.execute("SELECT pg_stat_clear_snapshot()")  # else a transaction sees cached counters
    rows = fetch_all(
        conn,
        load_sql("p5_trigger_removal/05_select_table_write_counters.sql"),
        {"schemas": [_split(t)[0] for t in tables], "tables": [_split(t)[1] for t in tables]},
    )
    at = rows[0]["at"] if rows else scalar(conn, "SELECT clock_timestamp()")
    out = {
        f"{r['schema_name']}.{r['table_name']}": {
            "ins": r["n_tup_ins"],
            "upd": r["n_tup_upd"],
            "del": r["n_tup_del"],
            "mod": r["n_mod_since_analyze"],
            "analyzes": r["analyzes"],
        }
        for r in rows
    }
    if not conn.autocommit:
        conn.commit()
    return {"at": at.isoformat() if isinstance(at, datetime) else at, "tables": out}


def write_count_delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, int]:
    """Writes (inserted + updated + deleted tuples) per table between two ``write_counters`` snapshots."""
    out = {}
    for table, a in after["tables"].items():
        b = before["tables"].get(table, {"ins": 0, "upd": 0, "del": 0})
        out[table] = sum(int(a[k]) - int(b[k]) for k in ("ins", "upd", "del"))
    return out


COMMITTED_WRITES_METHOD = (
    "pg_stat_user_tables.n_mod_since_analyze delta: committed inserts, updates and deletes "
    "only (rolled-back ones add nothing); a window with an ANALYZE of the table is measured again"
)


def committed_write_delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, int | None]:
    """Committed writes per table between two ``write_counters`` snapshots; None for a table
    analyzed in between (its counter restarted) or missing the counter (an old snapshot)."""
    out: dict[str, int | None] = {}
    for table, a in after["tables"].items():
        b = before["tables"].get(table)
        if not b or b.get("mod") is None or a.get("mod") is None or a.get("analyzes") != b.get("analyzes"):
            out[table] = None
        else:
            out[table] = max(0, int(a["mod"]) - int(b["mod"]))
    return out


def statement_stats_available(conn: psycopg.Connection) -> bool:
    """True when pg_stat_statements is installed in this database and its library is loaded."""
    if not scalar(conn, "SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'"):
        return False
    try:
        with conn.transaction():
            scalar(conn, "SELECT 1 FROM pg_stat_statements LIMIT 1")
        return True
    except psycopg.Error:  # installed but not in shared_preload_libraries
        return False


def statement_tables(query: str, tables: list[str]) -> list[str]:
    import re

    hits = []
    for t in tables:
        schema, name = _split(t)
        pat = (
            r"^\s*(/\*.*?\*/\s*)*(with\s.*?)?(insert\s+into|update(\s+only)?|delete\s+from(\s+only)?)\s+"
            r"((" + re.escape(schema) + r'|"' + re.escape(schema) + r'")\s*\.\s*)?'
            r'("' + re.escape(name) + r'"|' + re.escape(name) + r"\b)"
        )
        if re.search(pat, query, re.IGNORECASE | re.DOTALL):
            hits.append(t)
    return hits


def statement_costs(conn: psycopg.Connection, tables: list[str]) -> dict[str, dict[str, float]] | None:
    """Cumulative calls and execution ms of writes per table from pg_stat_statements, or None without it."""
    if not statement_stats_available(conn):
        return None
    out = {t: {"calls": 0, "total_ms": 0.0} for t in tables}
    for row in fetch_all(conn, load_sql("p5_trigger_removal/06_select_statement_write_costs.sql")):
        for t in statement_tables(row["query"], tables)[:1]:
            out[t]["calls"] += int(row["calls"])
            out[t]["total_ms"] += float(row["total_ms"])
    if not conn.autocommit:
        conn.commit()
    return out


def statement_cost_delta(before: dict | None, after: dict | None) -> dict[str, Any] | None:
    """Mean execution ms of the tables' writes between two ``statement_costs`` snapshots."""
    if before is None or after is None:
        return None
    per_table = {}
    calls = total = 0.0
    for t, a in after.items():
        b = before.get(t, {"calls": 0, "total_ms": 0.0})
        c, ms = a["calls"] - b["calls"], a["total_ms"] - b["total_ms"]
        per_table[t] = {"calls": int(c), "mean_ms": round(ms / c, 4) if c > 0 else None}
        calls += c
        total += ms
    return {
        "calls": int(calls),
        "mean_ms": round(total / calls, 4) if calls > 0 else None,
        "tables": per_table,
    }


def _role_usable(conn: psycopg.Connection, role: str) -> bool:
    return bool(
        scalar(
            conn, "SELECT pg_has_role(current_user, oid, 'MEMBER') FROM pg_roles WHERE rolname = %s", (role,)
        )
    )


# How the probe writes, in order of preference, per table: as the application's server
# role first (its policies are part of the cost), then as the migration's own login (a
# table owner passes RLS where the role has no policy); an INSERT of DEFAULT VALUES (insert
# and delete triggers), else a no-op UPDATE of an existing row (a NOT NULL column without
# default makes DEFAULT VALUES fail in most real schemas). The first form that works is
# used, the same way before and after a drop since the reasons it fails do not change.
PROBE_MODES = ("insert", "update")
PROBE_LOCK_TIMEOUT = "1s"


def _probe_attempts(conn: psycopg.Connection, role: str) -> list[tuple[str | None, str]]:
    roles: list[str | None] = [role, None] if _role_usable(conn, role) else [None]
    return [(r, mode) for mode in PROBE_MODES for r in roles]


def _probe_in_transaction(
    cur: psycopg.Cursor, table: str, writes: int, role: str | None, mode: str
) -> list[float]:
    """Run the probe inside the caller's transaction (which must be rolled back); timings in ms."""
    if role:
        cur.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
    cur.execute(
        load_sql("catalog/08_set_probe_settings.sql"),
        (
            PROBE_LOCK_TIMEOUT,
            sql.Identifier(*_split(table)).as_string(cur.connection),
            str(int(writes)),
            mode,
        ),
    )
    cur.execute(load_sql("p5_trigger_removal/08_probe_write_latency.sql"))
    cur.execute("SELECT current_setting('activity_migration.probe_result')::float8[]")
    row = cur.fetchone()
    if row is None:
        raise MigrationError(
            "expected one row, got none: SELECT current_setting('activity_migration.probe_result')::float8[]"
        )
    timings = list(row[0] or [])
    if role:
        cur.execute("RESET ROLE")
    return timings


def _first_error_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"


def probe_write_latency(
    conn: psycopg.Connection, tables: list[str], writes: int, role: str = PROBE_ROLE
) -> dict[str, Any]:
    """Time ``writes`` single-row writes per table, rolled back; per-table median/mean/p95 ms.

    Each write is timed inside the server (08_probe_write_latency.sql), so round trips do
    not drown the cost of the triggers the writes fire. The form and role per table follow
    ``_probe_attempts`` (recorded as ``mode`` and ``role``).

    ``probe_ms`` (the tier figure) is the mean over tables of each table's median write
    latency: medians resist a write that waited on a lock, the mean gives each table equal
    weight. A table no form can write (every attempt's error is reported) is left out of
    ``probe_ms``.
    """
    if not conn.autocommit and conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        conn.commit()
    attempts = _probe_attempts(conn, role)
    per_table: dict[str, Any] = {}
    for table in tables:
        errors: list[str] = []
        for as_role, mode in attempts:
            try:
                with conn.transaction(force_rollback=True), conn.cursor() as cur:
                    timings = _probe_in_transaction(cur, table, writes, as_role, mode)
            except psycopg.Error as exc:
                errors.append(f"{mode} as {as_role or 'session user'}: {_first_error_line(exc)}")
                continue
            timings.sort()
            per_table[table] = {
                "n": len(timings),
                "mode": mode,
                "role": as_role or "(session user)",
                "median_ms": round(statistics.median(timings), 4),
                "mean_ms": round(statistics.fmean(timings), 4),
                "p95_ms": round(timings[min(len(timings) - 1, int(0.95 * len(timings)))], 4),
            }
            break
        else:
            per_table[table] = {"n": 0, "error": "; ".join(errors)}
    medians = [v["median_ms"] for v in per_table.values() if "median_ms" in v]
    return {
        "writes_per_table": writes,
        "role": role,
        "probe_ms": round(statistics.fmean(medians), 4) if medians else None,
        "tuples": {t: (2 if v.get("mode") == "insert" else 1) * v["n"] for t, v in per_table.items()},
        "tables": per_table,
    }


def _guess_entity_type(cfg: MigrationConfig, table: str) -> list[str]:
    name = _split(table)[1]
    for candidate in (
        name,
        name[:-1] if name.endswith("s") else name,
        name[:-2] if name.endswith("es") else name,
    ):
        if candidate in cfg.categories:
            return [candidate]
    return []


def logged_entity_types(conn: psycopg.Connection, cfg: MigrationConfig, tables: list[str]) -> dict[str, Any]:
    """Which entity types the live logging triggers of each table write: observed, not guessed.

    For each table: one probe write (the forms of ``_probe_attempts``) in a transaction that
    is rolled back; the rows our own transaction wrote into the source table (and the events
    table, when it exists: phase 2's triggers write both) are read by ``xmin``. A table where
    that shows nothing (a conditional trigger, no form could write) falls back to the config
    category whose entity type is the table's singular name. Must run while the triggers exist.
    """
    events_exists = bool(
        scalar(
            conn,
            "SELECT to_regclass(format('%%I.%%I', %s::text, %s::text)) IS NOT NULL",
            (cfg.target_schema, cfg.target_table),
        )
    )
    if not conn.autocommit and conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        conn.commit()
    attempts = _probe_attempts(conn, PROBE_ROLE)
    source = sql.Identifier(cfg.source.schema, cfg.source.table)
    entity_col = sql.Identifier(cfg.source.required_column("entity_type"))
    out: dict[str, Any] = {}
    for table in tables:
        found: set[str] = set()
        errors: list[str] = []
        for as_role, mode in attempts:
            try:
                with conn.transaction(force_rollback=True), conn.cursor() as cur:
                    _probe_in_transaction(cur, table, 1, as_role, mode)
                    cur.execute(
                        sql.SQL(
                            "SELECT DISTINCT {}::text FROM {} WHERE xmin = pg_current_xact_id()::xid"
                        ).format(entity_col, source)
                    )
                    found |= {r[0] for r in cur.fetchall() if r[0]}
                    if events_exists:
                        cur.execute(
                            sql.SQL(
                                "SELECT DISTINCT entity_type FROM {} WHERE xmin = pg_current_xact_id()::xid"
                            ).format(sql.Identifier(cfg.target_schema, cfg.target_table))
                        )
                        found |= {r[0] for r in cur.fetchall() if r[0]}
            except psycopg.Error as exc:
                errors.append(f"{mode} as {as_role or 'session user'}: {_first_error_line(exc)}")
                continue
            if found:
                break
        if found:
            out[table] = {"entity_types": sorted(found), "how": "observed"}
        else:
            why = f"probe writes failed: {'; '.join(errors)}" if errors else "the probe writes logged nothing"
            out[table] = {"entity_types": _guess_entity_type(cfg, table), "how": f"guessed ({why})"}
    return out


def service_event_counts(
    conn: psycopg.Connection, cfg: MigrationConfig, entity_types: list[str], since: str, until: str
) -> dict[str, int]:
    """Events the application published (source 'service') per entity type, created in [since, until)."""
    rows = fetch_all(
        conn,
        load_sql(
            "catalog/09_count_service_events.sql", events=sql.Identifier(cfg.target_schema, cfg.target_table)
        ),
        (entity_types, since, until),
    )
    if not conn.autocommit:
        conn.commit()
    return {r["entity_type"]: int(r["n"]) for r in rows}


def service_event_count(
    conn: psycopg.Connection, cfg: MigrationConfig, entity_types: list[str], since: str, until: str
) -> int:
    """Events the application published (source 'service') for the entity types, created in [since, until)."""
    return sum(service_event_counts(conn, cfg, entity_types, since, until).values())


def seconds_between(since: str, until: str) -> float:
    return (datetime.fromisoformat(until) - datetime.fromisoformat(since)).total_seconds()
