"""Privileges as data: what each object the migration creates grants, applied and audited.

The migration adds no privilege (docs/security.md). Under Supabase's default privileges every
table, view, function and sequence created in ``public`` is granted to ``anon``,
``authenticated`` and ``service_role``, and Postgres grants EXECUTE on every new function to
PUBLIC. So each object the migration creates gets ``REVOKE ALL … FROM PUBLIC, anon,
authenticated, service_role`` and then exactly the grants listed here, in the same transaction
as its CREATE (no window in which a default grant holds). The state schema grants nothing to
anyone (``include/sql/privileges/01_lock_down_state_schema.sql``).

:func:`audit` reads the catalog and compares every privilege on an object the migration owns
with this list; the phases run it as their last step and fail on any difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import psycopg
from psycopg import sql

from .config import MigrationConfig
from .db import connection, fetch_all, load_sql, run_sql_file, scalar, server_version_num
from .errors import MigrationError
from .sqltext import quote_ident

API_ROLES = ("anon", "authenticated", "service_role")
_REVOKE_FROM = sql.SQL("PUBLIC, anon, authenticated, service_role")
# Names of the API objects phase 3 creates (p3_read_path.py uses the same ones).
FEED_FUNCTION_ARGS = "timestamp with time zone, uuid, integer, uuid, text, text, text"
COMPAT_VIEW = "activity_logs_compat"
PUBLISHER_FUNCTION = "activity_publisher"  # which side logs a table: 'trigger' or 'application' (phase 5)


@dataclass(frozen=True)
class ObjectGrants:
    """One object and the privileges each role holds on it (the owner aside)."""

    key: str  # short name used by callers: "events", "publish_activity", ...
    kind: str  # "table" (tables, views, materialized views) | "function"
    schema: str
    name: str
    args: str | None = None  # function argument types as the catalog prints them
    grants: tuple[tuple[str, str], ...] = ()  # (role, "SELECT, INSERT")

    @property
    def identity(self) -> str:
        """The object as ``to_regclass`` / ``to_regprocedure`` and the catalog print it."""
        q = f"{quote_ident(self.schema)}.{quote_ident(self.name)}"
        return f"{q}({self.args})" if self.kind == "function" else q

    def statements(self) -> list[sql.Composed]:
        """REVOKE everything from PUBLIC and the API roles, then GRANT exactly the list."""
        target = (
            sql.SQL("FUNCTION {}({})").format(
                sql.Identifier(self.schema, self.name), sql.SQL(self.args or "")
            )
            if self.kind == "function"
            else sql.SQL("TABLE {}").format(sql.Identifier(self.schema, self.name))
        )
        out: list[sql.Composed] = [sql.SQL("REVOKE ALL ON {} FROM {}").format(target, _REVOKE_FROM)]
        for role, privileges in self.grants:
            out.append(
                sql.SQL("GRANT {} ON {} TO {}").format(sql.SQL(privileges), target, sql.Identifier(role))
            )
        return out

    def expected(self) -> set[tuple[str, str, str]]:
        return {(self.identity, role, p.strip()) for role, privs in self.grants for p in privs.split(",")}


def api_objects(cfg: MigrationConfig, *, security_invoker_views: bool = True) -> dict[str, ObjectGrants]:
    """Every object the migration creates in application schemas, with its grants.

    :param security_invoker_views: the server has ``security_invoker`` views (Postgres 15+);
        without it a compatibility view would bypass RLS, so only service_role may read it
    """
    t, s = cfg.target_schema, cfg.source.schema
    user_and_service = (("authenticated", "EXECUTE"), ("service_role", "EXECUTE"))
    view_readers = (
        (("authenticated", "SELECT"), ("service_role", "SELECT"))
        if security_invoker_views
        else (("service_role", "SELECT"),)
    )
    from .phases._common import (
        ACTOR_VIEW,
        API_PUBLISH,
        DAILY_VIEW,
        HELPER_SIGNATURES,
        PUBLISH_ARGS,
    )

    objs = [
        ObjectGrants(
            "events",
            "table",
            t,
            cfg.target_table,
            grants=(("authenticated", "SELECT"), ("service_role", "SELECT, INSERT, UPDATE, DELETE")),
        ),
        ObjectGrants("publish_activity", "function", t, API_PUBLISH, PUBLISH_ARGS, user_and_service),
        *[
            ObjectGrants(
                name,
                "function",
                t,
                name,
                args,
                (("service_role", "EXECUTE"),) if name == "refresh_event_analytics" else user_and_service,
            )
            for name, args in HELPER_SIGNATURES.items()
        ],
        ObjectGrants(DAILY_VIEW, "table", t, DAILY_VIEW, grants=(("service_role", "SELECT"),)),
        ObjectGrants(ACTOR_VIEW, "table", t, ACTOR_VIEW, grants=(("service_role", "SELECT"),)),
        ObjectGrants(PUBLISHER_FUNCTION, "function", t, PUBLISHER_FUNCTION, "text", user_and_service),
        ObjectGrants("event_feed", "function", "public", "event_feed", FEED_FUNCTION_ARGS, user_and_service),
        ObjectGrants(
            "activity_read_source", "function", "public", "activity_read_source", "", user_and_service
        ),
        ObjectGrants(COMPAT_VIEW, "table", "public", COMPAT_VIEW, grants=view_readers),
        # Phase 6's view under the legacy table's name (only while it is a view of ours).
        ObjectGrants("legacy_name_view", "table", s, cfg.source.table, grants=view_readers),
    ]
    return {o.key: o for o in objs}


def grant_statements(conn: psycopg.Connection, cfg: MigrationConfig, *keys: str) -> list[sql.Composed]:
    """The REVOKE/GRANT statements of the named API objects, for the transaction that creates them."""
    objs = api_objects(cfg, security_invoker_views=server_version_num(conn) >= 150000)
    unknown = [k for k in keys if k not in objs]
    if unknown:
        raise MigrationError(f"no grant list for {unknown}; known objects: {sorted(objs)}")
    return [stmt for k in keys for stmt in objs[k].statements()]


def apply_grants(conn: psycopg.Connection, cfg: MigrationConfig, *keys: str) -> None:
    """Run :func:`grant_statements` on ``conn`` (in the caller's transaction)."""
    for stmt in grant_statements(conn, cfg, *keys):
        conn.execute(stmt)


def lock_down_state_schema(conn: psycopg.Connection, cfg: MigrationConfig) -> None:
    """Revoke what PUBLIC and the API roles hold in the state schema; RLS on its tables (idempotent)."""
    run_sql_file(conn, "privileges/01_lock_down_state_schema.sql", state_name=sql.Literal(cfg.state_schema))


def write_path_grants(cfg: MigrationConfig, roles: Iterable[str]) -> list[sql.Composed]:
    """What the owners of rewritten SECURITY DEFINER trigger functions need to reach the
    internal writer (the rewritten bodies run as them): USAGE on the state schema and EXECUTE on
    the writer. Never an API role (phase 2 refuses those owners before it gets here)."""
    from .phases._common import INTERNAL_PUBLISH, PUBLISH_ARGS

    out: list[sql.Composed] = []
    for role in sorted(set(roles)):
        if role in API_ROLES:
            raise MigrationError(f"refusing to grant the internal write path to the API role {role}")
        out.append(
            sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(
                sql.Identifier(cfg.state_schema), sql.Identifier(role)
            )
        )
        out.append(
            sql.SQL("GRANT EXECUTE ON FUNCTION {}({}) TO {}").format(
                sql.Identifier(cfg.state_schema, INTERNAL_PUBLISH),
                sql.SQL(PUBLISH_ARGS),
                sql.Identifier(role),
            )
        )
    return out


WRITE_PATH_ROLES_SETTING = "write_path_roles"


def expected_privileges(conn: psycopg.Connection, cfg: MigrationConfig) -> set[tuple[str, str, str]]:
    """(object, grantee, privilege) the migration means to exist: the API list and the write path."""
    from . import ledger
    from .phases._common import publish_identity

    objs = api_objects(cfg, security_invoker_views=server_version_num(conn) >= 150000)
    out: set[tuple[str, str, str]] = set()
    for o in objs.values():
        out |= o.expected()
    state = quote_ident(cfg.state_schema)
    for role in ledger.get_setting(conn, WRITE_PATH_ROLES_SETTING, [], cfg=cfg) or []:
        out |= {(state, role, "USAGE"), (publish_identity(cfg), role, "EXECUTE")}
    return out


def granted_privileges(conn: psycopg.Connection, cfg: MigrationConfig) -> list[dict[str, Any]]:
    """Every privilege anyone but the owner holds on an object the migration owns (catalog)."""
    objs = api_objects(cfg)
    return fetch_all(
        conn,
        load_sql("privileges/02_select_granted_privileges.sql"),
        {
            "state": cfg.state_schema,
            "relations": [
                o.identity for o in objs.values() if o.kind == "table" and o.key != "legacy_name_view"
            ]
            + _legacy_name_view(conn, cfg),
            "functions": [o.identity for o in objs.values() if o.kind == "function"],
        },
    )


def _legacy_name_view(conn: psycopg.Connection, cfg: MigrationConfig) -> list[str]:
    """The legacy name, while it is phase 6's view (then the migration owns it)."""
    ident = f"{quote_ident(cfg.source.schema)}.{quote_ident(cfg.source.table)}"
    kind = conn.execute("SELECT relkind::text FROM pg_class WHERE oid = to_regclass(%s)", (ident,)).fetchone()
    return [ident] if kind and kind[0] == "v" else []


def audit(conn: psycopg.Connection, cfg: MigrationConfig) -> dict[str, Any]:
    """Compare the catalog with the grant list: extra privileges, missing ones, state tables without RLS."""
    rows = granted_privileges(conn, cfg)
    expected = expected_privileges(conn, cfg)
    present_objects = {r["object"] for r in rows}
    extra, seen, rls_off = [], set(), []
    for r in rows:
        if r["privilege"] == "ROW LEVEL SECURITY OFF":
            rls_off.append(r["object"])
            continue
        key = (r["object"], r["grantee"], r["privilege"])
        seen.add(key)
        if key not in expected or r["grantable"]:
            extra.append(
                f"{r['grantee']} has {r['privilege']}{' WITH GRANT OPTION' if r['grantable'] else ''} "
                f"on {r['kind']} {r['object']}"
            )
    existing = _existing_objects(conn, cfg, {o for o, _, _ in expected})
    missing = [f"{g} lacks {p} on {o}" for o, g, p in sorted(expected - seen) if o in existing]
    return {
        "objects_checked": len(present_objects | existing),
        "privileges_seen": len(rows),
        "extra": extra,
        "missing": missing,
        "rls_off": rls_off,
        "passed": not (extra or missing or rls_off),
    }


def _existing_objects(conn: psycopg.Connection, cfg: MigrationConfig, identities: set[str]) -> set[str]:
    """Which of the expected objects exist now (the state schema, functions, relations)."""
    state = quote_ident(cfg.state_schema)
    out = set()
    for ident in identities:
        if ident == state:
            q = "SELECT to_regnamespace(%s) IS NOT NULL"
        elif ident.endswith(")"):
            q = "SELECT to_regprocedure(%s) IS NOT NULL"
        else:
            q = "SELECT to_regclass(%s) IS NOT NULL"
        if scalar(conn, q, (ident,)):
            out.add(ident)
    if _legacy_name_view(conn, cfg) == []:
        out.discard(f"{quote_ident(cfg.source.schema)}.{quote_ident(cfg.source.table)}")
    return out


def require_clean(dsn: str, cfg: MigrationConfig) -> dict[str, Any]:
    """The audit as a gate: MigrationError listing every difference, else the audit's figures."""
    with connection(dsn) as conn:
        result = audit(conn, cfg)
    if not result["passed"]:
        problems = (
            result["extra"]
            + result["missing"]
            + [f"row level security is off on {t}" for t in result["rls_off"]]
        )
        raise MigrationError(
            f"privilege audit failed ({len(problems)} differences from the grant list in "
            f"activity_migration/privileges.py; docs/security.md): "
            + "; ".join(problems[:20])
            + (" …" if len(problems) > 20 else "")
        )
    return result


def audit_step(dsn: str, cfg: MigrationConfig, ctx: Any = None) -> dict[str, Any]:
    """A phase's last step (ledgered by the phase module): :func:`require_clean`."""
    return require_clean(dsn, cfg)
