"""The application's activity read queries, old and new, as data; their parameters chosen from the data.

Each query is two files under ``include/sql/outcome/queries/``: ``<name>_legacy.sql`` (the
application's query on the trigger-filled log) and ``<name>_events.sql`` (the same question through
``public.event_feed`` / ``events``). Both return ``activity_id`` (the legacy id; for an event born
after the log, the event id) and ``sort_at``, so a test can check they return the same activities.
Placeholders:
``{source}``, ``{events}``; parameters: ``user_id``, ``customer_id``, ``entity_type``,
``entity_id``, ``term`` (and a keyset cursor a ``<name>_events_cursor.sql`` computes, untimed).

A form that cannot run is reported with the reason (the log archived by phase 6, the feed not yet
created, an error), never as a zero.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from ..config import MigrationConfig
from ..db import SQL_ROOT, fetch_one, load_sql, scalar

FORMS = ("legacy", "events")


@dataclass(frozen=True)
class ActivityQuery:
    name: str
    title: str
    role: str = "owner"  # "authenticated": run as the signed-in user's API request (RLS applies)


QUERIES = (
    ActivityQuery("user_latest_50", "a user's latest 50 activities"),
    ActivityQuery("customer_30d_page3", "a customer's last 30 days, page 3 of 50"),
    ActivityQuery("entity_history", "one entity's history (latest 200)"),
    ActivityQuery("text_search", "text search, latest 50 matches"),
    ActivityQuery("api_own_feed", "activity API: my latest 50 (as the user, RLS)", role="authenticated"),
)


def query(name: str) -> ActivityQuery:
    return {q.name: q for q in QUERIES}[name]


def _relkind(conn: psycopg.Connection, schema: str, name: str) -> str | None:
    return scalar(
        conn,
        "SELECT relkind::text FROM pg_class WHERE oid = to_regclass(format('%%I.%%I', %s::text, %s::text))",
        (schema, name),
    )


def legacy_unavailable(conn: psycopg.Connection, cfg: MigrationConfig) -> str | None:
    """Why the legacy forms cannot run now, or None."""
    name = f"{cfg.source.schema}.{cfg.source.table}"
    kind = _relkind(conn, cfg.source.schema, cfg.source.table)
    if kind in ("r", "p"):
        return None
    if kind == "v":
        return (
            f"{name} is gone: phase 6 archived the legacy table; the name is now a compatibility view over "
            f"{cfg.target_schema}.{cfg.target_table}, so running the legacy query would measure the new store"
        )
    return f"{name} does not exist (archived or dropped by phase 6)"


def events_unavailable(conn: psycopg.Connection, cfg: MigrationConfig) -> str | None:
    """Why the new forms cannot run now (no events table, no event_feed), or None."""
    if _relkind(conn, cfg.target_schema, cfg.target_table) not in ("r", "p"):
        return f"{cfg.target_schema}.{cfg.target_table} does not exist yet (phase 1 creates it)"
    if not scalar(conn, "SELECT to_regproc('public.event_feed') IS NOT NULL"):
        return "public.event_feed does not exist yet (phase 3 creates it)"
    return None


class Unmeasurable(Exception):
    """A query form needs a source column the config does not map."""


def _identifiers(cfg: MigrationConfig) -> dict[str, Any]:
    """Tables, and the legacy log's columns as the config maps them (``c_<event field>``; the
    legacy queries are written against the mapping, not against the demo's column names)."""
    columns = {f"c_{field}": sql.Identifier(col) for field, col in cfg.source.columns.items() if col}
    return {
        "source": sql.Identifier(cfg.source.schema, cfg.source.table),
        "events": sql.Identifier(cfg.target_schema, cfg.target_table),
        "c_key": sql.Identifier(cfg.source.key),
        **columns,
    }


def _load(relative: str, cfg: MigrationConfig) -> sql.Composed:
    text = (SQL_ROOT / relative).read_text()
    body = "\n".join(line for line in text.splitlines() if not line.startswith("--"))
    unmapped = sorted(set(re.findall(r"\{(c_[a-z_]+)\}", body)) - set(_identifiers(cfg)))
    if unmapped:
        fields = ", ".join(u[2:] for u in unmapped)
        raise Unmeasurable(f"the config maps no source column to {fields} ({cfg.source_table})")
    ids = {k: v for k, v in _identifiers(cfg).items() if "{" + k + "}" in text}
    return load_sql(relative, **ids)


CHOOSE_FROM_LEGACY = "outcome/06_choose_query_parameters_legacy.sql"
CHOOSE_FROM_EVENTS = "outcome/07_choose_query_parameters_events.sql"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def choose_parameters(conn: psycopg.Connection, cfg: MigrationConfig) -> dict[str, Any]:
    """The most active user, the busiest customer of the last 30 days, the entity with the longest
    history and a search word: from the legacy log while it is a table, else from events."""
    try:
        if legacy_unavailable(conn, cfg) is None:
            row, origin = fetch_one(conn, _load(CHOOSE_FROM_LEGACY, cfg)), "legacy log"
        elif events_unavailable(conn, cfg) is None:
            row, origin = fetch_one(conn, _load(CHOOSE_FROM_EVENTS, cfg)), "events"
        else:
            row, origin = None, "none"
    except (psycopg.Error, Unmeasurable) as exc:
        # Never fail a phase over a measurement: the queries are then reported as not measured.
        if not conn.autocommit:
            conn.rollback()
        return {"chosen_from": "none", "not_chosen": _first_line(exc)}
    if not conn.autocommit:
        conn.commit()
    params = {k: (str(v) if v is not None else None) for k, v in (row or {}).items()}
    return {**params, "chosen_from": origin}


def _params_for(
    conn: psycopg.Connection, cfg: MigrationConfig, q: ActivityQuery, form: str, params: dict[str, Any]
) -> dict[str, Any]:
    out = {k: v for k, v in params.items() if k != "chosen_from"}
    cursor = SQL_ROOT / "outcome" / "queries" / f"{q.name}_{form}_cursor.sql"
    if cursor.exists():
        out.update(fetch_one(conn, _load(f"outcome/queries/{cursor.name}", cfg), out) or {})
    return out


def _enter_role(conn: psycopg.Connection, q: ActivityQuery, params: dict[str, Any]) -> None:
    if q.role == "authenticated":
        conn.execute("SET LOCAL ROLE authenticated")
        claims = json.dumps({"sub": params.get("user_id"), "role": "authenticated"})
        conn.execute("SELECT set_config('request.jwt.claims', %s, true)", (claims,))


def _plan_summary(plan: dict[str, Any]) -> dict[str, Any]:
    nodes: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        label = node.get("Node Type", "?")
        target = node.get("Index Name") or node.get("Relation Name") or node.get("Function Name")
        nodes.append(f"{label} on {target}" if target else label)
        for child in node.get("Plans", []) or []:
            walk(child)

    top = plan["Plan"]
    walk(top)
    return {
        "shared_hit": int(top.get("Shared Hit Blocks", 0)),
        "shared_read": int(top.get("Shared Read Blocks", 0)),
        "explain_ms": round(float(plan.get("Planning Time", 0)) + float(plan.get("Execution Time", 0)), 3),
        "nodes": nodes[:12],
    }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * (len(ordered) - 1)))))]


def run_form(
    conn: psycopg.Connection,
    cfg: MigrationConfig,
    q: ActivityQuery,
    form: str,
    params: dict[str, Any],
    runs: int = 5,
) -> dict[str, Any]:
    """Time ``runs`` executions (client side, rows fetched: what the application waits for) and one
    ``EXPLAIN (ANALYZE, BUFFERS, TIMING OFF)`` for the plan's buffers; or ``{"not_measured": why}``."""
    why = legacy_unavailable(conn, cfg) if form == "legacy" else events_unavailable(conn, cfg)
    if why is None and q.role == "authenticated" and not params.get("user_id"):
        why = "no user to sign in as (the log has no actor)"
    if why:
        return {"not_measured": why}
    try:
        stmt = _load(f"outcome/queries/{q.name}_{form}.sql", cfg)
    except Unmeasurable as exc:
        return {"not_measured": str(exc)}
    timings: list[float] = []
    try:
        with conn.transaction(force_rollback=True):
            bound = _params_for(conn, cfg, q, form, params)
            _enter_role(conn, q, params)
            with conn.cursor() as cur:
                for _ in range(max(1, runs)):
                    started = time.perf_counter()
                    cur.execute(stmt, bound)
                    rows = cur.fetchall()
                    timings.append((time.perf_counter() - started) * 1000)
                cur.execute(sql.SQL("EXPLAIN (ANALYZE, BUFFERS, TIMING OFF, FORMAT JSON) ") + stmt, bound)
                explained = cur.fetchone()
                plan = explained[0][0] if explained else {}
    except psycopg.Error as exc:
        return {"not_measured": _first_line(exc)}
    return {
        "runs": len(timings),
        "rows": len(rows),
        "first_ms": round(timings[0], 3),
        "p50_ms": round(statistics.median(timings), 3),
        "p95_ms": round(_percentile(timings, 0.95), 3),
        **_plan_summary(plan),
    }


def activity_ids(
    conn: psycopg.Connection, cfg: MigrationConfig, name: str, form: str, params: dict[str, Any]
) -> list[tuple[str, Any]]:
    """(activity_id, sort timestamp) of what one form returns, in its order (the old = new check)."""
    q = query(name)
    with conn.transaction(force_rollback=True):
        bound = _params_for(conn, cfg, q, form, params)
        _enter_role(conn, q, params)
        with conn.cursor() as cur:
            cur.execute(_load(f"outcome/queries/{q.name}_{form}.sql", cfg), bound)
            return [(r[0], r[1]) for r in cur.fetchall()]


def measure_all(
    conn: psycopg.Connection, cfg: MigrationConfig, params: dict[str, Any], runs: int = 5
) -> dict[str, dict[str, Any]]:
    """Every query in both forms: ``{name: {"title", "legacy": figures, "events": figures}}``."""
    if not conn.autocommit and conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        conn.commit()
    return {
        q.name: {"title": q.title, **{form: run_form(conn, cfg, q, form, params, runs) for form in FORMS}}
        for q in QUERIES
    }
