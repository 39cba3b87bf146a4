"""The ledger and settings in the state schema, against a real Postgres."""

from __future__ import annotations

import psycopg
import pytest

from activity_migration import ledger
from activity_migration.errors import ConfigError


def test_state_schema_is_idempotent_and_records_steps(fresh_db):
    with psycopg.connect(fresh_db) as conn:
        assert ledger.last_step(conn, "p1_infrastructure") is None
        ledger.ensure_state_schema(conn)
        ledger.ensure_state_schema(conn)  # second run changes nothing and does not fail
        ctx = ledger.RunContext(environment="staging", mode="demo", dag_run_id="r1", actor="alice")
        lid = ledger.record(conn, "p1_infrastructure", "apply", "started", ctx, finished=False)
        ledger.finish(conn, lid, "succeeded", {"objects": 3})
        row = ledger.last_step(conn, "p1_infrastructure", "apply", environment="staging")
        assert row["status"] == "succeeded" and row["details"] == {"objects": 3}
        assert row["actor"] == "alice" and row["mode"] == "demo" and row["project_version"]
        assert row["finished_at"] >= row["started_at"]
        assert ledger.last_step(conn, "p1_infrastructure", environment="production") is None


def test_settings_round_trip(fresh_db):
    with psycopg.connect(fresh_db) as conn:
        assert ledger.get_setting(conn, "read_source", "activity_logs") == "activity_logs"
        ledger.ensure_state_schema(conn)
        ledger.set_setting(conn, "read_source", "events", by="bob")
        conn.commit()
        assert ledger.get_setting(conn, "read_source") == "events"


def test_run_context_validates():
    with pytest.raises(ConfigError, match="environment"):
        ledger.RunContext(environment="prod")
    with pytest.raises(ConfigError, match="mode"):
        ledger.RunContext(mode="yolo")


def test_record_inside_a_transaction_block_is_atomic_with_it(fresh_db):
    with psycopg.connect(fresh_db) as conn:
        ledger.ensure_state_schema(conn)
        with pytest.raises(RuntimeError):
            with conn.transaction():
                ledger.record(conn, "p2_dual_write", "switch", "succeeded")
                raise RuntimeError("switch failed after the ledger row")
        assert ledger.last_step(conn, "p2_dual_write", "switch") is None
        with conn.transaction():
            ledger.record(conn, "p2_dual_write", "switch", "succeeded")
        assert ledger.last_step(conn, "p2_dual_write", "switch")["status"] == "succeeded"
