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


def test_a_started_step_names_its_process_and_a_dead_one_reads_as_interrupted(fresh_db):
    import subprocess

    from activity_migration.status import current_phase, phases_section

    with ledger.step(fresh_db, "p4_backfill", "copy") as out:
        with psycopg.connect(fresh_db) as conn:
            started = ledger.last_step(conn, "p4_backfill", "copy")
            assert started["details"]["worker"] == ledger.worker()
            assert phases_section(conn, ledger.load_config())["current_state"] == "running"
        out["rows"] = 5
    with psycopg.connect(fresh_db) as conn:
        done = ledger.last_step(conn, "p4_backfill", "copy")
        assert done["details"] == {"rows": 5}  # the worker is dropped once the step ends

        gone = subprocess.Popen(["true"])
        gone.wait()  # a process that has exited: what a killed worker leaves behind
        dead = {**ledger.worker(), "pid": gone.pid}
        ledger.record(conn, "p4_backfill", "copy", "started", details={"worker": dead}, finished=False)
        section = phases_section(conn, ledger.load_config())
    assert ledger.worker_alive(dead) is False and ledger.worker_alive(ledger.worker()) is True
    assert ledger.worker_alive({"host": "elsewhere", "pid": 1}) is None
    assert section["phases"]["p4_backfill"]["alive"] is False
    assert (section["current_phase"], section["current_state"]) == ("p4_backfill", "interrupted")
    assert current_phase({"p1_infrastructure": {"status": "succeeded", "at": "1"}})["current_state"] == (
        "last finished"
    )
