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

A source column of a character type feeding a field of another type (an IP address kept as
text) is converted with ``<state>.to_<type>_or_null``, never a plain cast: a value that does
not convert ('unknown' in an ip column) must not fail a backfill chunk or, in dual write, the
application's own write. ``conversion_reason`` names such a value (``unconvertible_<field>``)
so the backfill quarantines the row with its original instead of copying it without the value.
"""

from __future__ import annotations

from psycopg import sql

from .config import MigrationConfig

# event field -> SQL type its source column is cast to (a no-op when the column has the type)
FIELD_TYPES = {
    "actor_id": "uuid",
    "customer_id": "uuid",
    "action": "text",
    "entity_type": "text",
    "entity_id": "text",
    "description": "text",
    "metadata": "jsonb",
    "ip_address": "inet",
    "user_agent": "text",
    "occurred_at": "timestamptz",
}


# event type -> the state schema's conversion of text that returns NULL where a cast would fail
# (02_create_mapping_rules.sql). The preflight admits a character column only for these fields.
CONVERTERS = {"inet": "to_inet_or_null"}


def converts_from_text(event_field: str, column_types: dict[str, dict] | None, column: str | None) -> bool:
    """Whether the source column is of a character type (category S) and the field is not text."""
    info = (column_types or {}).get(column or "")
    return bool(info and info.get("category") == "S" and FIELD_TYPES[event_field] in CONVERTERS)


def raw_field(
    cfg: MigrationConfig, event_field: str, alias: str = "s", column_types: dict[str, dict] | None = None
) -> sql.Composable:
    """The source column feeding ``event_field`` in the event's type (NULL when unmapped).

    ``column_types``: the source's columns as ``catalog.source_columns`` reads them; a character
    column is then converted (NULL when it does not convert) instead of cast.
    """
    col = cfg.source.column(event_field)
    typ = FIELD_TYPES[event_field]
    if col is None:
        return sql.SQL("NULL::{}").format(sql.SQL(typ))
    if converts_from_text(event_field, column_types, col):
        return sql.SQL("{}.{}({}::text)").format(
            sql.Identifier(cfg.state_schema), sql.Identifier(CONVERTERS[typ]), sql.Identifier(alias, col)
        )
    return sql.SQL("{}::{}").format(sql.Identifier(alias, col), sql.SQL(typ))


def conversion_reason(
    cfg: MigrationConfig, alias: str = "s", column_types: dict[str, dict] | None = None
) -> sql.Composable:
    """``unconvertible_<field>`` for the first source value that does not convert, else NULL (text)."""
    whens = [
        sql.SQL("WHEN {} IS NOT NULL AND {} IS NULL THEN {}").format(
            sql.Identifier(alias, col),
            raw_field(cfg, f, alias, column_types),
            sql.Literal(f"unconvertible_{f}"),
        )
        for f in FIELD_TYPES
        if (col := cfg.source.column(f)) is not None and converts_from_text(f, column_types, col)
    ]
    return sql.SQL("CASE {} END").format(sql.SQL(" ").join(whens)) if whens else sql.SQL("NULL::text")


# Text fields publish_activity normalises; the SQL of that normalisation, over an expression.
NORMALISED_TEXT = {
    "entity_type": "btrim({expr})",
    "entity_id": "btrim({expr})",
    "description": "{state}.sanitize_text({expr})",
    "user_agent": "{state}.sanitize_text({expr})",
}


def normalised(cfg: MigrationConfig, event_field: str, expr: sql.Composable) -> sql.Composable:
    """``expr`` (the raw value of ``event_field``) as publish_activity stores it."""
    return sql.SQL(NORMALISED_TEXT[event_field]).format(expr=expr, state=sql.Identifier(cfg.state_schema))


def event_field_exprs(
    cfg: MigrationConfig, alias: str, column_types: dict[str, dict] | None
) -> dict[str, sql.Composable]:
    """Expressions over source row ``alias`` for every mapped field, normalised as publish_activity does.

    Keys are the config's field names (``metadata`` is the event's payload, ``action`` the raw
    legacy action); ``<field>_raw`` for each NORMALISED_TEXT field (the rejection rules judge
    the raw description; the parity checks compare with the raw value first, cheap and equal
    for nearly every row, and normalise only where that differs); and ``conversion_reason``.
    ``column_types``: ``catalog.source_columns`` (None: every column is taken to have its field's type).
    """
    raw = {f: raw_field(cfg, f, alias, column_types) for f in FIELD_TYPES}
    out = dict(raw)
    for f in NORMALISED_TEXT:
        out[f] = normalised(cfg, f, raw[f])
        out[f"{f}_raw"] = raw[f]
    out["metadata"] = sql.SQL("coalesce({}, '{{}}'::jsonb)").format(raw["metadata"])
    out["conversion_reason"] = conversion_reason(cfg, alias, column_types)
    return out
