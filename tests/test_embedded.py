"""The embedded Postgres starts on loopback, serves a database and stops cleanly."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import psycopg

from activity_migration.embedded import EmbeddedPostgres, port_is_open
from testdb import free_port


def test_embedded_server_lifecycle():
    # Under the project (not pytest's 0700 tmp): the server may run as another user.
    root = Path(__file__).resolve().parents[1] / ".local" / f"pg-lifecycle-{uuid.uuid4().hex[:8]}"
    server = EmbeddedPostgres(port=free_port(), root=root)
    try:
        server.start()
        assert server.start() == server.dsn()  # idempotent
        dsn = server.ensure_database("demo_app")
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT current_database()").fetchone()[0] == "demo_app"
            assert conn.execute("SHOW listen_addresses").fetchone()[0] == "127.0.0.1"
    finally:
        assert server.stop()
    assert not port_is_open("127.0.0.1", server.port)
    assert not server.stop()
    shutil.rmtree(root, ignore_errors=True)
