"""The realtime watch on the real test server: slots, subscriptions, change rate, judged against
the configured limits. A slot retaining more WAL than the critical limit fails phase 3's sensor
(the Airflow operator, poked with a run's Params) naming the slot and the limit; where nothing is
measurable the watch passes saying why.

The test server may run with ``wal_level = replica``: then a real *physical* slot that reserves
WAL stands in for Realtime's logical slot (the watch judges every slot by the WAL it retains),
with a limit of a few bytes. With ``wal_level = logical`` a real logical slot is used.
"""

from __future__ import annotations

import dataclasses
import uuid

import psycopg
import pytest

import _forward
from activity_migration.realtime_watch import measure, sensor_verdict
from dagrun import conn_uri

CFG = _forward.CFG


def _wal_level(dsn: str) -> str:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SHOW wal_level").fetchone()[0]


def _limits(**kw) -> object:
    return dataclasses.replace(CFG, realtime=dataclasses.replace(CFG.realtime, **kw))


class RetainingSlot:
    """A real replication slot that retains WAL (logical where possible), dropped on exit."""

    def __init__(self, dsn: str) -> None:
        self.dsn, self.name = dsn, f"am_test_slot_{uuid.uuid4().hex[:8]}"

    def __enter__(self) -> "RetainingSlot":
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            if _wal_level(self.dsn) == "logical":
                conn.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (self.name,))
            else:
                conn.execute("SELECT pg_create_physical_replication_slot(%s, true)", (self.name,))
            # some WAL after the slot's restart point: it must keep it
            conn.execute(
                "CREATE TEMP TABLE wal_filler AS SELECT g, md5(g::text) FROM generate_series(1, 2000) g"
            )
        return self

    def __exit__(self, *exc) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = %s",
                (self.name,),
            )


def test_a_slot_past_the_critical_level_fails_the_phase3_sensor(demo_db, tmp_path, monkeypatch):
    _forward.p1(demo_db)
    config = tmp_path / "migration.yaml"
    config.write_text(
        CFG.path.read_text()
        .replace("slot_warning_bytes: 1073741824", "slot_warning_bytes: 8")
        .replace("slot_critical_bytes: 4294967296", "slot_critical_bytes: 16")
    )
    monkeypatch.setenv("ACTIVITY_MIGRATION_CONFIG", str(config))
    monkeypatch.setenv("AIRFLOW_CONN_ACTIVITY_DB_STAGING", conn_uri(demo_db))
    from airflow.sdk.exceptions import AirflowFailException

    from migration_airflow.watch_tasks import RealtimeQuotaSensor

    sensor = RealtimeQuotaSensor(task_id="realtime_quota")
    context = {"params": {"environment": "staging", "mode": "demo"}}
    with RetainingSlot(demo_db) as slot:
        with pytest.raises(AirflowFailException) as failed:
            sensor.poke(context)
    message = str(failed.value)
    assert f"replication slot '{slot.name}'" in message, message
    assert "over the critical limit 16 B (16 bytes, realtime.slot_critical_bytes)" in message, message
    assert (
        "disable the publication for events (ALTER PUBLICATION supabase_realtime DROP TABLE "
        "public.events" in message
    )
    assert "raise the plan" in message
    # the slot is gone: the same sensor passes again (the demo's subscriptions are far below the quota)
    assert sensor.poke(context) is True


def test_warning_and_ok_levels_of_slots_and_subscriptions(demo_db):
    _forward.p1(demo_db)
    with RetainingSlot(demo_db) as slot:
        report = measure(psycopg.connect(demo_db, autocommit=True), _limits(slot_warning_bytes=8))
        mine = next(f for f in report.findings if f.subject == slot.name)
        assert mine.level == "warning" and mine.limit == 8 and "realtime.slot_warning_bytes" in mine.message
        assert report.passed and report.level == "warning"
    # the demo seed's realtime schema: 5 clients against the Free plan's 200 connections
    conns = next(f for f in report.findings if f.check == "connections")
    assert (conns.level, conns.value, conns.limit) == ("ok", 5.0, 200.0), conns
    assert "https://supabase.com/docs/guides/realtime/limits" in conns.limit_source
    tight = measure(psycopg.connect(demo_db, autocommit=True), _limits(max_concurrent_connections=5))
    crit = next(f for f in tight.findings if f.check == "connections")
    assert crit.level == "critical"
    assert "against 5 concurrent connections (realtime.max_concurrent_connections" in crit.message


def test_not_measurable_passes_with_the_reason(fresh_db):
    from validation.helpers import migrated_db

    dsn = migrated_db(fresh_db, rows=50)  # events, no realtime schema, no publication
    passed, message, report = sensor_verdict(dsn, CFG)
    assert passed
    conns = next(f for f in report.findings if f.check == "connections")
    assert conns.level == "not_measurable" and "no realtime.subscription table" in conns.message
    if _wal_level(dsn) != "logical":
        msgs = next(f for f in report.findings if f.check == "messages_per_second")
        assert msgs.level == "not_measurable" and "wal_level = replica" in msgs.message
        with psycopg.connect(dsn) as conn:
            slots = conn.execute("SELECT count(*) FROM pg_replication_slots").fetchone()[0]
        if slots == 0:
            assert report.level == "not_measurable"
            assert message.startswith("realtime not measurable here, passing:")
            assert "wal_level = replica" in message
