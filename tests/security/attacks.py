"""Attempts a user of the application's API could make, run against a real database.

Each attempt runs in its own transaction (rolled back) as the role PostgREST would use
(``SET LOCAL ROLE``) with the JWT claims of a signed-in user or none (anon). An attempt *got
through* when it raised no error and, for a read, returned what the caller must not see.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable

import psycopg
from psycopg import sql


@dataclass
class Attempt:
    name: str
    role: str  # anon | authenticated | service_role
    statement: sql.Composable | str
    params: tuple | dict | None = None
    as_user: str | None = None  # JWT sub (None: not signed in)
    # A read that raised no error got through when this says so about its rows (default: any row).
    leaked: Callable[[list[tuple]], bool] = field(default=lambda rows: bool(rows))
    write: bool = False  # a write got through when it raised no error


@dataclass
class Outcome:
    attempt: Attempt
    refused: bool
    detail: str


def run(conn: psycopg.Connection, attempt: Attempt) -> Outcome:
    """Run one attempt in a transaction that is always rolled back."""
    try:
        with conn.transaction(force_rollback=True):
            conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(attempt.role)))
            claims = {"role": attempt.role, **({"sub": attempt.as_user} if attempt.as_user else {})}
            conn.execute("SELECT set_config('request.jwt.claims', %s, true)", (json.dumps(claims),))
            cur = conn.execute(attempt.statement, attempt.params)
            rows = cur.fetchall() if cur.description else []
    except psycopg.Error as exc:
        return Outcome(attempt, True, f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
    if attempt.write:
        return Outcome(attempt, False, f"wrote without error (returned {rows[:1]})")
    if attempt.leaked(rows):
        return Outcome(attempt, False, f"read {len(rows)} rows it must not see: {rows[:2]}")
    return Outcome(attempt, True, f"saw nothing it must not ({len(rows)} rows)")


def run_all(conn: psycopg.Connection, attempts: list[Attempt]) -> tuple[list[Outcome], str]:
    """Every attempt, and a one-screen report (printed by the tests)."""
    outcomes = [run(conn, a) for a in attempts]
    through = [o for o in outcomes if not o.refused]
    lines = [f"security attempts: {len(outcomes)} made, {len(through)} got through"]
    lines += [f"  GOT THROUGH: {o.attempt.role} {o.attempt.name}: {o.detail}" for o in through]
    return outcomes, "\n".join(lines)


def call(function: str, **kwargs: Any) -> tuple[sql.Composable, dict[str, Any]]:
    """``SELECT <function>(p_x => %(p_x)s, …)`` with named arguments."""
    args = sql.SQL(", ").join(
        sql.SQL("{} => {}").format(sql.Identifier(k), sql.Placeholder(k)) for k in kwargs
    )
    return sql.SQL("SELECT {}({})").format(sql.SQL(function), args), kwargs
