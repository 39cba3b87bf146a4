"""A legacy row's columns as the event fields they become: one set of SQL expressions.

``publish_activity`` (both forms) normalises what it writes into ``events``: the entity type
and id trimmed, the description and user agent through ``<state>.sanitize_text`` (control
characters out, trimmed, empty → NULL), a missing payload as ``{}``. In dual write the legacy
row keeps the raw values. So an event equals its legacy row only *after* the same
normalisation; the backfill writes events with these expressions and the parity checks expect
events to equal them, so the three writers and the checks cannot drift apart.

The rejection rules judge the raw description (``description_raw``): a legacy row whose
description holds control characters is quarantined by the backfill (``broken_text``), as
phase 4 documents, rather than copied with the characters silently removed.
"""
from __future__ import annotations

from psycopg import sql

from .config import MigrationConfig

# event field -> SQL type its source column is cast to (a no-op when the column has the type)
FIELD_TYPES = {
    "actor_id": "uuid", "customer_id": "uuid", "action": "text", "entity_type": "text", "entity_id": "text",
    "description": "text", "metadata": "jsonb", "ip_address": "inet", "user_agent": "text",
    "occurred_at": "timestamptz",
}


def raw_field(cfg: MigrationConfig, event_field: str, alias: str = "s") -> sql.Composable:
    """The source column feeding ``event_field``, cast to the event's type (NULL when unmapped)."""
    col = cfg.source.column(event_field)
    typ = sql.SQL(FIELD_TYPES[event_field])
    if col is None:
        return sql.SQL("NULL::{}").format(typ)
    return sql.SQL("{}::{}").format(sql.Identifier(alias, col), typ)


def event_field_exprs(cfg: MigrationConfig, alias: str = "s") -> dict[str, sql.Composable]:
    """Expressions over source row ``alias`` for every mapped field, normalised as publish_activity does.

    Keys are the config's field names (``metadata`` is the event's payload, ``action`` the raw
    legacy action), plus ``description_raw`` (the rejection rules judge it) and
    ``user_agent_raw``: the parity checks compare text with the raw value first (cheap, equal
    for nearly every row) and normalise only where that differs.
    """
    state = sql.Identifier(cfg.state_schema)
    raw = {f: raw_field(cfg, f, alias) for f in FIELD_TYPES}
    out = dict(raw)
    out["entity_type"] = sql.SQL("btrim({})").format(raw["entity_type"])
    out["entity_id"] = sql.SQL("btrim({})").format(raw["entity_id"])
    out["description"] = sql.SQL("{}.sanitize_text({})").format(state, raw["description"])
    out["user_agent"] = sql.SQL("{}.sanitize_text({})").format(state, raw["user_agent"])
    out["metadata"] = sql.SQL("coalesce({}, '{{}}'::jsonb)").format(raw["metadata"])
    out["description_raw"] = raw["description"]
    out["user_agent_raw"] = raw["user_agent"]
    return out
