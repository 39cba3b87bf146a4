"""Phase 2's plan: which legacy functions write the log, their rewritten bodies, and as whom
they will run (the roles that need the internal writer)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from .. import catalog, ledger, privileges
from ..catalog import source_columns
from ..config import MigrationConfig
from ..db import fetch_all, load_sql, scalar
from ..errors import MigrationError, PreflightError
from ._common import (
    function_def,
    publish_identity,
)
from .p2_rewrite import REWRITE_MARKER, Rewriter, replace_body

log = logging.getLogger(__name__)

PHASE = "p2_dual_write"


# ---------------------------------------------------------------------------- plan
@dataclass
class FunctionPlan:
    identity: str  # regprocedure text
    original_def: str  # pg_get_functiondef before phase 2 (backup or current)
    new_def: str  # the rewritten definition
    statements: list[str]  # the INSERT statements it replaces
    triggers: list[str] = field(default_factory=list)  # schema.table.trigger using it
    tables: list[str] = field(default_factory=list)


def body_of(definition: str) -> str:
    """The body (prosrc) inside a pg_get_functiondef text."""
    m = re.search(r"\bAS (\$[A-Za-z_0-9]*\$)", definition)
    if not m:
        raise MigrationError("cannot find the body of a function definition (no AS $tag$)")
    tag = m.group(1)
    end = definition.rfind(tag)
    if end <= m.end():
        raise MigrationError("cannot find the end of a function body")
    return definition[m.end() : end]


def _language_of(definition: str) -> str:
    m = re.search(r"\bLANGUAGE (\w+)", definition)
    return m.group(1).lower() if m else "plpgsql"


def _backups(conn: psycopg.Connection, cfg: MigrationConfig) -> dict[str, dict[str, Any]]:
    if not ledger.state_schema_exists(conn, cfg):
        return {}
    rows = fetch_all(
        conn,
        sql.SQL("SELECT * FROM {}.ddl_backups WHERE phase = %s AND object_type = 'function'").format(
            sql.Identifier(cfg.state_schema)
        ),
        (PHASE,),
    )
    return {r["identity"]: r for r in rows}


def _candidate_functions(conn: psycopg.Connection, cfg: MigrationConfig) -> list[str]:
    """Logging functions (not ours) whose current body names the source table."""
    oids = sorted(catalog.logging_function_oids(conn, cfg))
    rows = fetch_all(conn, load_sql("p2_dual_write/07_select_function_sources.sql"), (oids,))
    pattern = re.compile(r"\b" + re.escape(cfg.source.table) + r"\b", re.IGNORECASE)
    return sorted(r["identity"] for r in rows if r["prosrc"] and pattern.search(r["prosrc"]))


def plan(conn: psycopg.Connection, cfg: MigrationConfig) -> list[FunctionPlan]:
    """What the switch will install: one FunctionPlan per function that writes the source table.

    Rewrites start from the original definition: the backup when the catalog already holds
    a rewritten body (phase 2 ran), the catalog otherwise. Raises UnrewritableFunction.
    """
    backups = _backups(conn, cfg)
    identities = set(_candidate_functions(conn, cfg))
    identities |= {
        i
        for i, b in backups.items()
        if b["restored_at"] is None
        and i != publish_identity(cfg)
        and scalar(conn, "SELECT to_regprocedure(%s) IS NOT NULL", (i,))
    }
    rewriter = Rewriter(cfg, column_types=source_columns(conn, cfg))
    triggers = catalog.logging_triggers(conn, cfg)
    plans = []
    for identity in sorted(identities):
        current = function_def(conn, identity)
        if current is None:
            continue
        if REWRITE_MARKER in current:
            if identity not in backups:
                raise PreflightError(
                    f"{identity} holds a rewritten body but has no backup in "
                    f"{cfg.state_schema}.ddl_backups: cannot know its original"
                )
            original = backups[identity]["definition"]
        else:
            original = current
        body = body_of(original)
        rw = rewriter.rewrite(identity, body, _language_of(original))
        if not rw.changed:
            continue  # reads the source table only
        users = [t for t in triggers if _same_function(conn, t.function_identity, identity)]
        plans.append(
            FunctionPlan(
                identity=identity,
                original_def=original,
                new_def=replace_body(original, body, rw.new_body),
                statements=rw.statements,
                triggers=[t.identity for t in users],
                tables=sorted({t.table for t in users}),
            )
        )
    return plans


def _same_function(conn: psycopg.Connection, a: str, b: str) -> bool:
    return a == b or bool(scalar(conn, "SELECT to_regprocedure(%s) = to_regprocedure(%s)", (a, b)))


# How each rewritten function reaches the internal writer: as its owner (SECURITY DEFINER) or
# as whoever fires the trigger (SECURITY INVOKER). API roles may never execute the writer.
_FUNCTION_RUNNERS = "p2_dual_write/08_select_function_runners.sql"
# Roles that may write the legacy table today (what a SECURITY INVOKER logging function needs).
_LEGACY_WRITERS = "p2_dual_write/09_select_legacy_writers.sql"
# Whether a role reaches the internal writer already (superuser, or USAGE and EXECUTE).
_MAY_WRITE = "p2_dual_write/10_select_may_write.sql"


def write_path_roles(conn: psycopg.Connection, cfg: MigrationConfig, plans: list[FunctionPlan]) -> list[str]:
    """Roles the rewritten functions run as that need a grant on the internal writer.

    A SECURITY DEFINER function runs as its owner; a SECURITY INVOKER one as whoever may write
    the legacy table today. Raises PreflightError when that would be an API role (it may never
    execute the writer: a person decides, docs/security.md).
    """
    rows = fetch_all(conn, load_sql(_FUNCTION_RUNNERS), {"identities": [p.identity for p in plans]})
    runners = {r["role"] for r in rows if r["definer"]}
    problems = [
        f"{r['identity']} is owned by the API role {r['role']}"
        for r in rows
        if r["definer"] and r["role"] in privileges.API_ROLES
    ]
    invoker = [r["identity"] for r in rows if not r["definer"]]
    if invoker:
        writers = {
            r["role"] for r in fetch_all(conn, load_sql(_LEGACY_WRITERS), {"source": cfg.source_table})
        }
        api_writers = sorted(writers & set(privileges.API_ROLES))
        if api_writers:
            problems.append(
                f"SECURITY INVOKER functions {invoker} run as the caller, and the API roles "
                f"{api_writers} may write {cfg.source_table} today (make each SECURITY DEFINER, owned "
                f"by a server role, after checking what else it does)"
            )
        runners |= writers
    if problems:
        raise PreflightError(
            "the rewritten logging functions reach the internal writer, which no API role may "
            "execute: " + "; ".join(problems)
        )
    may_write = load_sql(_MAY_WRITE)
    return sorted(
        role
        for role in runners
        if not scalar(
            conn, may_write, {"state": cfg.state_schema, "writer": publish_identity(cfg), "role": role}
        )
    )
