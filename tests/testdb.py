"""Throwaway Postgres databases for tests (the helpers behind the ``fresh_db``/``demo_db`` fixtures).

A plain module, imported absolutely (``from testdb import create_database, drop_database``):
``from conftest import ...`` breaks once tests/e2e/conftest.py has been loaded (pytest keeps one
module named ``conftest``).
"""

from __future__ import annotations

import socket
import uuid

import psycopg
from psycopg import sql


def dsn_for(admin_dsn: str, dbname: str) -> str:
    """The admin DSN pointed at another database."""
    return psycopg.conninfo.make_conninfo(admin_dsn, dbname=dbname)


def create_database(admin_dsn: str, prefix: str = "amt", template: str | None = None) -> tuple[str, str]:
    """Create ``<prefix>_<random>`` (optionally a copy of ``template``); return (name, dsn)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        stmt = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            stmt = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        conn.execute(stmt)
    return name, dsn_for(admin_dsn, name)


def drop_database(admin_dsn: str, name: str) -> None:
    """Drop the database, disconnecting whoever is still on it."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def free_port() -> int:
    """A loopback port nobody listens on now (for a test's own embedded server)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
