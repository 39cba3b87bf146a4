"""The legacy log's access rules, carried over to ``events`` (and so to the compatibility views).

Phase 1 reads the row-level security policies of the source table from the catalog and creates
the same policies on ``events``, each expression rewritten from the legacy columns to the event
columns they map to (``source.columns`` in the config: ``user_id`` -> ``actor_id`` ...). A staff-
only log stays staff-only; an "own rows" log stays "own events". Own-events is the demo's rule,
not a default.

An expression that names a legacy column with no event counterpart (a column the config does
not map) cannot be translated; it must be given in the config (``security.read_policies``: the
legacy policy's name -> an expression over the event columns), or phase 1 stops listing them.
Write policies are carried too (their roles and commands), though the API roles write
``events`` only through ``publish_activity``.

A legacy table without row-level security (readable by whoever holds SELECT) gives ``events``
one permissive policy ``USING (true)`` for the roles that could read the legacy table, so
``events`` shows them what the old table did.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from .catalog import row_security_enabled, table_columns
from .config import MigrationConfig
from .db import fetch_all, load_sql
from .errors import PreflightError
from .sqltext import quote_ident, significant, tokenize

# Event column (or expression) for each mappable source field; {q} is where a qualifier goes
# ("" or "events." when the legacy expression qualified the column, e.g. inside a sub-select).
EVENT_EXPRESSIONS = {
    "actor_id": "{q}actor_id",
    "customer_id": "{q}customer_id",
    "entity_type": "{q}entity_type",
    "entity_id": "{q}entity_id",
    "description": "{q}description",
    "metadata": "{q}payload",
    "ip_address": "{q}ip_address",
    "user_agent": "{q}user_agent",
    "occurred_at": "{q}occurred_at",
    "action": "(substr({q}event_type, strpos({q}event_type, '.') + 1))",
}
POLICY_PREFIX = "events_"
_LEGACY_POLICIES = "privileges/03_select_legacy_policies.sql"


@dataclass(frozen=True)
class EventPolicy:
    """One policy to create on ``events``."""

    name: str
    legacy_name: str
    command: str
    permissive: bool
    roles: tuple[str, ...]
    using: str | None
    check: str | None
    origin: str  # translated | config | no legacy RLS

    def statement(self, events: sql.Identifier) -> sql.Composed:
        parts = [
            sql.SQL("CREATE POLICY {} ON {} AS {} FOR {} TO {}").format(
                sql.Identifier(self.name),
                events,
                sql.SQL("PERMISSIVE" if self.permissive else "RESTRICTIVE"),
                sql.SQL(self.command),
                sql.SQL(", ").join(sql.SQL(r) for r in self.roles),
            )
        ]
        if self.using is not None:
            parts.append(sql.SQL("USING ({})").format(sql.SQL(self.using)))
        if self.check is not None:
            parts.append(sql.SQL("WITH CHECK ({})").format(sql.SQL(self.check)))
        return sql.SQL(" ").join(parts)


@dataclass(frozen=True)
class AccessPlan:
    policies: tuple[EventPolicy, ...]
    untranslatable: tuple[str, ...]  # "policy: why"
    legacy_rls: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "legacy_rls": self.legacy_rls,
            "untranslatable": list(self.untranslatable),
            "policies": [
                {
                    "name": p.name,
                    "from": p.legacy_name,
                    "command": p.command,
                    "roles": list(p.roles),
                    "using": p.using,
                    "check": p.check,
                    "origin": p.origin,
                }
                for p in self.policies
            ],
        }


def column_map(cfg: MigrationConfig) -> dict[str, str]:
    """Legacy column -> the event expression it becomes (the key -> legacy_activity_log_id)."""
    out = {col.lower(): EVENT_EXPRESSIONS[field] for field, col in cfg.source.columns.items()}
    out[cfg.source.key.lower()] = "{q}legacy_activity_log_id"
    return out


def translate(expr: str, cfg: MigrationConfig, legacy_columns: set[str]) -> tuple[str | None, list[str]]:
    """``expr`` (as pg_get_expr prints a policy of the legacy table) over the event columns.

    A column of the legacy table appears unqualified outside sub-selects (or qualified with the
    table's name anywhere); it is replaced by its event expression, qualified with the events
    table's name where the legacy one was (inside a sub-select an unqualified name would mean a
    column of the sub-select's own tables). Returns (text, problems): the names of legacy
    columns that map to nothing.
    """
    mapping = column_map(cfg)
    table = cfg.source.table.lower()
    events_q = quote_ident(cfg.target_table) + "."
    toks = tokenize(expr)
    sig = significant(toks)
    replace: dict[int, str] = {}  # token index in toks -> new text ('' drops it)
    problems: list[str] = []
    index = {id(t): i for i, t in enumerate(toks)}
    depth_select: list[bool] = []  # per open paren: does it open a sub-select?
    for k, t in enumerate(sig):
        if t.kind == "punct" and t.text == "(":
            nxt = sig[k + 1] if k + 1 < len(sig) else None
            depth_select.append(bool(nxt and nxt.kind == "word" and nxt.upper in ("SELECT", "WITH")))
            continue
        if t.kind == "punct" and t.text == ")":
            if depth_select:
                depth_select.pop()
            continue
        name = t.ident_name()
        if name is None:
            continue
        prev = sig[k - 1] if k else None
        nxt = sig[k + 1] if k + 1 < len(sig) else None
        qualified_by_table = (
            prev is not None and prev.text == "." and k >= 2 and sig[k - 2].ident_name() == table
        )
        if nxt is not None and nxt.text in ("(", "."):
            continue  # a function, or a qualifier of something else
        if prev is not None and prev.text == "." and not qualified_by_table:
            continue  # another relation's column
        if any(depth_select) and not qualified_by_table:
            continue  # inside a sub-select: its own columns
        if prev is not None and prev.text == "::":
            continue  # a type name
        if name not in legacy_columns:
            continue
        if name not in mapping:
            problems.append(name)
            continue
        replace[index[id(t)]] = mapping[name].format(q=events_q if qualified_by_table else "")
        if qualified_by_table:  # "activity_logs." goes: the qualifier is in the expression
            replace[index[id(sig[k - 2])]] = ""
            replace[index[id(prev)]] = ""
    if problems:
        return None, sorted(set(problems))
    return "".join(replace.get(i, t.text) for i, t in enumerate(toks)), []


def plan(conn: psycopg.Connection, cfg: MigrationConfig) -> AccessPlan:
    """The policies ``events`` gets: the legacy table's, translated (or from the config)."""
    source = sql.Identifier(cfg.source.schema, cfg.source.table).as_string(conn)
    legacy_rls = row_security_enabled(conn, cfg.source.schema, cfg.source.table)
    columns = {name.lower() for name, _ in table_columns(conn, cfg.source.schema, cfg.source.table)}
    configured = cfg.security.read_policies
    if not legacy_rls:
        return AccessPlan(_unrestricted_policies(conn, source), (), legacy_rls)
    policies: list[EventPolicy] = []
    untranslatable: list[str] = []
    for p in fetch_all(conn, load_sql(_LEGACY_POLICIES), (source,)):
        if p["name"] in configured:
            policies.append(_configured_policy(p, configured[p["name"]]))
            continue
        translated = _translated_policy(p, cfg, columns)
        if isinstance(translated, str):
            untranslatable.append(translated)
        else:
            policies.append(translated)
    unknown = sorted(set(configured) - {p.legacy_name for p in policies})
    if unknown:
        untranslatable.append(
            f"config security.read_policies names policies {unknown} that {cfg.source_table} does not have"
        )
    return AccessPlan(tuple(policies), tuple(untranslatable), legacy_rls)


def _unrestricted_policies(conn: psycopg.Connection, source: str) -> tuple[EventPolicy, ...]:
    """No legacy RLS: one ``USING (true)`` policy for the roles that could read the legacy table."""
    readers = [
        r["rolname"] for r in fetch_all(conn, load_sql("privileges/04_select_legacy_readers.sql"), (source,))
    ]
    if not readers:
        return ()
    return (
        EventPolicy(
            _name("legacy_unrestricted"),
            "(no row level security)",
            "SELECT",
            True,
            tuple(quote_ident(r) for r in readers),
            "true",
            None,
            "no legacy RLS",
        ),
    )


def _configured_policy(p: dict[str, Any], using: str) -> EventPolicy:
    """The legacy policy ``p`` with the expression the config gives for it."""
    using_clause = using if p["using_expr"] is not None or p["command"] != "INSERT" else None
    return _event_policy(p, using_clause, using if p["check_expr"] is not None else None, "config")


def _event_policy(p: dict[str, Any], using: str | None, check: str | None, origin: str) -> EventPolicy:
    """The events policy standing for legacy policy ``p`` (same name root, command, roles)."""
    return EventPolicy(
        _name(p["name"]), p["name"], p["command"], p["permissive"], tuple(p["roles"]), using, check, origin
    )


def _translated_policy(p: dict[str, Any], cfg: MigrationConfig, columns: set[str]) -> EventPolicy | str:
    """The legacy policy ``p`` over the event columns, or the sentence saying why it cannot be."""
    using, bad_u = translate(p["using_expr"], cfg, columns) if p["using_expr"] else (None, [])
    check, bad_c = translate(p["check_expr"], cfg, columns) if p["check_expr"] else (None, [])
    if bad_u or bad_c:
        return (
            f"{p['name']}: it uses {sorted(set(bad_u + bad_c))}, which the config maps to no "
            f"event column ({p['using_expr'] or p['check_expr']})"
        )
    return _event_policy(p, using, check, "translated")


def _name(legacy: str) -> str:
    return (POLICY_PREFIX + legacy)[:63]


def require_plan(conn: psycopg.Connection, cfg: MigrationConfig) -> AccessPlan:
    """:func:`plan`, or PreflightError listing what must be given in the config."""
    p = plan(conn, cfg)
    if p.untranslatable:
        raise PreflightError(
            f"the access rules of {cfg.source_table} cannot all be carried over to {cfg.target}: "
            + "; ".join(p.untranslatable)
            + ". Give each as an expression over the event columns (actor_id, customer_id, entity_type, "
            "entity_id, event_type, category, payload, ...) in the config: security.read_policies: "
            "{<legacy policy name>: <expression>}"
        )
    return p


def existing_policies(conn: psycopg.Connection, cfg: MigrationConfig) -> dict[str, dict[str, Any]]:
    """The policies on ``events`` now, as pg_policies prints them."""
    return {
        r["policyname"]: r
        for r in fetch_all(
            conn, load_sql("privileges/05_select_event_policies.sql"), (cfg.target_schema, cfg.target_table)
        )
    }
