"""The event-type registry in the state schema (docs/event-types-and-realtime.md).

One row per event type: category, description, who registered it and when, the feed's label
template (config ``event_types.labels``), first and last seen, count. Phase 1 registers every
type the legacy log produces (:func:`register_from_mapping`); a person registers a new one with
``activity-migration event-types register``.

**Counts are kept by batch, not per event.** ``publish_activity`` never touches the registry (no
hot-row lock on the write path, no extra statement per event); the nightly check recounts it
with one set-based statement (:func:`refresh_counts`), exact as of that statement's snapshot.
An unregistered type is accepted like any other (no event is ever refused for it) and
reported: :func:`unregistered_event_types` (live, one scan of events), the nightly mail, the
status section.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from .. import ledger, privileges
from ..config import MigrationConfig
from ..db import connection, fetch_all, fetch_one, load_sql, run_locked, scalar
from ..errors import MigrationError
from ..ledger import RunContext, ledgered
from ..sqltext import quote_ident

log = logging.getLogger(__name__)

PHASE = "p1_infrastructure"
REGISTRY = "event_types"
FILLED_SETTING = "event_types_from_mapping"  # legacy types registered (phase 1 or a nightly)
LEGACY_REGISTRANT = "p1_infrastructure (legacy mapping)"


def _registry(cfg: MigrationConfig) -> sql.Identifier:
    return ledger.state_table(cfg, REGISTRY)


def _events(cfg: MigrationConfig) -> sql.Identifier:
    return sql.Identifier(cfg.target_schema, cfg.target_table)


def _relkind(conn: psycopg.Connection, schema: str, name: str) -> str | None:
    ident = f"{quote_ident(schema)}.{quote_ident(name)}"
    return scalar(conn, "SELECT relkind::text FROM pg_class WHERE oid = to_regclass(%s)", (ident,))


def registry_exists(conn: psycopg.Connection, cfg: MigrationConfig) -> bool:
    return _relkind(conn, cfg.state_schema, REGISTRY) == "r"


def ensure_registry(conn: psycopg.Connection, cfg: MigrationConfig) -> None:
    """Create the registry when missing and lock the state schema down (in the caller's transaction)."""
    ledger.ensure_state_schema(conn, cfg)
    if registry_exists(conn, cfg):
        return
    with conn.transaction():
        conn.execute(load_sql("event_types/01_create_event_type_registry.sql", state=cfg.state_schema))
        privileges.lock_down_state_schema(conn, cfg)


def _labels(cfg: MigrationConfig) -> Jsonb:
    return Jsonb(dict(cfg.event_types.labels))


def register_legacy_types(dsn: str, cfg: MigrationConfig, by: str = LEGACY_REGISTRANT) -> dict[str, Any]:
    """Register every type the legacy log produces (02_register_legacy_event_types.sql); idempotent.

    Skipped, saying why, when the legacy table is no longer a table (phase 6 archived it).
    """
    with connection(dsn) as conn:
        ensure_registry(conn, cfg)
        conn.commit()
        if _relkind(conn, cfg.source.schema, cfg.source.table) not in ("r", "p"):
            return {"registered": 0, "skipped": f"{cfg.source_table} is not a table any more (phase 6)"}
    stmt = load_sql(
        "event_types/02_register_legacy_event_types.sql",
        state=cfg.state_schema,
        source=sql.Identifier(cfg.source.schema, cfg.source.table),
        entity_col=cfg.source.columns["entity_type"],
        action_col=cfg.source.columns["action"],
    )

    def body(conn: psycopg.Connection) -> int:
        with conn.cursor() as cur:
            cur.execute(stmt, {"by": by, "labels": _labels(cfg)})
            n = cur.rowcount
        ledger.set_setting(conn, FILLED_SETTING, {"registered": n, "by": by}, by=by, cfg=cfg)
        return n

    n = run_locked(dsn, body, **cfg.safety.ddl_retry, what="registering the legacy event types")
    with connection(dsn) as conn:
        total = scalar(
            conn, sql.SQL("SELECT count(*) FROM {} WHERE registered_at IS NOT NULL").format(_registry(cfg))
        )
    return {
        "registered_now": n,
        "registered_total": int(total or 0),
        "registry": f"{cfg.state_schema}.{REGISTRY}",
    }


@ledgered(PHASE, "register_event_types")
def register_from_mapping(dsn: str, cfg: MigrationConfig, ctx: RunContext) -> dict[str, Any]:
    """Phase 1's step: the registry, filled with every type the legacy log produces."""
    return register_legacy_types(dsn, cfg)


def ensure_filled_from_mapping(dsn: str, cfg: MigrationConfig) -> dict[str, Any] | None:
    """Register the legacy types once on a database whose phase 1 ran before the registry
    existed (the first nightly after an upgrade); None when that was done already."""
    with connection(dsn) as conn:
        done = ledger.get_setting(conn, FILLED_SETTING, None, cfg=cfg)
    if done is not None:
        return None
    return register_legacy_types(dsn, cfg, by="nightly check (first run: legacy mapping)")


def refresh_counts(conn: psycopg.Connection, cfg: MigrationConfig) -> dict[str, Any]:
    """Recount the registry from events in one statement (03_recount_event_types.sql).

    Runs in the caller's transaction (the caller commits); the counts are exact as of the
    statement's snapshot. Returns the totals read back in the same transaction.
    """
    ensure_registry(conn, cfg)
    conn.execute(
        load_sql("event_types/03_recount_event_types.sql", state=cfg.state_schema, events=_events(cfg)),
        {"labels": _labels(cfg)},
    )
    summary = load_sql("event_types/06_summarize_event_type_registry.sql", state=cfg.state_schema)
    row = fetch_one(conn, summary) or {}
    return {k: (int(v) if k != "counted_at" else v) for k, v in row.items()}


def register(
    conn: psycopg.Connection,
    cfg: MigrationConfig,
    event_type: str,
    by: str,
    *,
    category: str | None = None,
    description: str | None = None,
    label: str | None = None,
) -> dict[str, Any]:
    """Register (or re-register) one event type; its category defaults to its entity type's."""
    import re

    if not by or not by.strip():
        raise MigrationError("event-types register needs --by (who registers the type)")
    too_long = len(event_type or "") > cfg.rules.event_type_max_length
    if not re.match(cfg.rules.event_type_pattern, event_type or "") or too_long:
        raise MigrationError(
            f"{event_type!r} is not a valid event type (rules.event_type_pattern "
            f"{cfg.rules.event_type_pattern}, at most {cfg.rules.event_type_max_length} "
            "characters)"
        )
    entity = event_type.split(".", 1)[0]
    categories = set(cfg.categories.values())
    category = category or cfg.categories.get(entity)
    if category is None or category not in categories:
        raise MigrationError(
            f"no category for {event_type!r}: its entity type {entity!r} is not in the "
            "config's "
            f"categories; give --category, one of {sorted(categories)}"
        )
    ensure_registry(conn, cfg)
    row = fetch_one(
        conn,
        load_sql("event_types/04_upsert_event_type.sql", state=cfg.state_schema),
        {
            "event_type": event_type,
            "category": category,
            "description": description,
            "by": by.strip(),
            "label": label or cfg.event_types.labels.get(event_type),
        },
    )
    return dict(row or {})


def list_types(conn: psycopg.Connection, cfg: MigrationConfig) -> list[dict[str, Any]]:
    """Every registry row (registered or only seen), with ``registered`` and ``has_label``."""
    if not registry_exists(conn, cfg):
        return []
    return fetch_all(conn, load_sql("event_types/07_select_event_type_registry.sql", state=cfg.state_schema))


def describe(conn: psycopg.Connection, cfg: MigrationConfig, event_type: str) -> dict[str, Any]:
    """The registry row of one type plus its live count in events (a scan of events)."""
    row = next((r for r in list_types(conn, cfg) if r["event_type"] == event_type), None)
    live = {}
    if _relkind(conn, cfg.target_schema, cfg.target_table) == "r":
        live = (
            fetch_one(
                conn,
                load_sql("event_types/08_count_event_type.sql", events=_events(cfg)),
                {"event_type": event_type},
            )
            or {}
        )
    if row is None and not (live or {}).get("live_count"):
        raise MigrationError(f"event type {event_type!r} is neither registered nor seen in {cfg.target}")
    out = dict(row or {"event_type": event_type, "registered": False})
    out.update(live or {})
    out["label_in_config"] = cfg.event_types.labels.get(event_type)
    return out


def unregistered_event_types(conn: psycopg.Connection, cfg: MigrationConfig) -> list[dict[str, Any]]:
    """Event types present in events that nobody registered, live (one scan of events).

    Each: ``event_type``, ``category``, ``event_count``, ``first_seen``, ``last_seen``, ``sources``.
    [] when events or the registry does not exist yet.
    """
    if _relkind(conn, cfg.target_schema, cfg.target_table) != "r" or not registry_exists(conn, cfg):
        return []
    return fetch_all(
        conn,
        load_sql(
            "event_types/05_select_unregistered_event_types.sql", state=cfg.state_schema, events=_events(cfg)
        ),
    )


def event_types_section(conn: psycopg.Connection, cfg: MigrationConfig) -> dict[str, Any]:
    """Status section: registered types, types without a label, the unregistered types (live)."""
    if not registry_exists(conn, cfg):
        return {"registry": "not created yet (phase 1 registers the legacy types)", "unregistered": []}
    rows = list_types(conn, cfg)
    unregistered = unregistered_event_types(conn, cfg)
    return {
        "registered": sum(1 for r in rows if r["registered"]),
        "without_label": sorted(r["event_type"] for r in rows if r["registered"] and not r["has_label"])[:50],
        "last_recount": max((r["counted_at"] for r in rows if r["counted_at"]), default=None),
        "unregistered": [
            {k: u[k] for k in ("event_type", "event_count", "first_seen", "last_seen", "sources")}
            for u in unregistered
        ],
    }
