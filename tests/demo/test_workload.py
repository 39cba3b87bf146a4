"""The workload generator on a real Postgres: pacing, counts, publishing where triggers are gone."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from activity_migration.demo import workload
from activity_migration.demo.app import APP_TABLES
from activity_migration.demo.workload import run_workload
from activity_migration.errors import MigrationError

# A stand-in for phase 1's publish_activity (same named parameters) that records its calls.
STAND_IN = """
CREATE TABLE public.publish_calls (event_type text, entity_type text, entity_id text, payload jsonb,
                                   actor_id uuid, customer_id uuid, description text, source text,
                                   ip_address inet, user_agent text);
CREATE FUNCTION public.publish_activity(
    p_event_type text, p_entity_type text, p_entity_id text DEFAULT NULL, p_payload jsonb DEFAULT '{}',
    p_actor_id uuid DEFAULT NULL, p_customer_id uuid DEFAULT NULL, p_description text DEFAULT NULL,
    p_source text DEFAULT 'service', p_occurred_at timestamptz DEFAULT now(), p_ip_address inet DEFAULT NULL,
    p_user_agent text DEFAULT NULL)
RETURNS uuid LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
    INSERT INTO public.publish_calls VALUES (p_event_type, p_entity_type, p_entity_id, p_payload, p_actor_id,
                                             p_customer_id, p_description, p_source, p_ip_address,
                                                 p_user_agent);
    RETURN gen_random_uuid();
END $$;
GRANT EXECUTE ON FUNCTION public.publish_activity(text, text, text, jsonb, uuid, uuid, text, text,
    timestamptz, inet, text)
    TO authenticated;
"""


def _log_count(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT count(*) FROM public.activity_logs").fetchone()[0]


def _drop_logging_triggers(dsn: str, table: str) -> int:
    from activity_migration import catalog

    with psycopg.connect(dsn, autocommit=True) as conn:
        triggers = [t for t in catalog.logging_triggers(conn) if t.table_name == table]
        for t in triggers:
            conn.execute(f'DROP TRIGGER "{t.trigger_name}" ON public."{table}"')
    return len(triggers)


def test_runs_at_the_target_rate_without_failures_and_logs_every_dml_once(demo_db):
    before = _log_count(demo_db)
    report = run_workload(demo_db, seconds=3, rate=80, connections=2)
    assert report.failed == 0, report.errors
    assert report.ok >= 0.8 * 80 * 3
    assert 60 <= report.achieved_rate <= 100
    assert (
        report.latency_p50_ms is not None
        and report.latency_p50_ms <= report.latency_p95_ms <= report.latency_p99_ms
    )
    kinds = {k: sum(c[k] for c in report.per_table.values()) for k in ("inserts", "updates", "deletes")}
    assert all(kinds.values()), kinds
    assert report.total_dml == report.ok - report.noops
    assert sum(1 for c in report.per_table.values() if sum(c.values())) >= 14  # spread over the tables
    # Every DML was logged exactly once by the legacy triggers; nothing was published.
    assert _log_count(demo_db) - before == report.total_dml
    assert sum(report.published.values()) == 0 and sum(report.unpublished.values()) == 0
    assert report.to_dict()["total_dml"] == report.total_dml and "p50" in report.summary()


# Mostly notifications (whose triggers the tests drop), a few other tables.
NOTIFICATIONS_HEAVY = ["notifications"] * 8 + ["payments", "users"]


@pytest.mark.parametrize("publish", ["auto", "never"])
def test_publishes_events_itself_once_a_tables_triggers_are_gone(demo_db, publish):
    with psycopg.connect(demo_db, autocommit=True) as conn:
        conn.execute(STAND_IN)
    assert _drop_logging_triggers(demo_db, "notifications") == 4
    before = _log_count(demo_db)
    report = run_workload(
        demo_db, seconds=3, rate=60, connections=2, publish=publish, tables=NOTIFICATIONS_HEAVY
    )
    assert report.failed == 0, report.errors
    notifications = sum(report.per_table["notifications"].values())
    assert notifications > 20
    with psycopg.connect(demo_db) as conn:
        calls = conn.execute(
            "SELECT event_type, entity_type, entity_id, payload, actor_id, customer_id, source, "
            "host(ip_address), user_agent FROM public.publish_calls"
        ).fetchall()
        exists = conn.execute(
            "SELECT count(*) FROM public.notifications WHERE id::text = ANY(%s)", ([c[2] for c in calls],)
        ).fetchone()[0]
    # The other tables still log through their triggers; notifications only through the app (auto) or not at
    # all.
    assert _log_count(demo_db) - before == report.total_dml - notifications
    if publish == "auto":
        assert report.published["notifications"] == notifications == len(calls)
        assert sum(report.published.values()) == notifications
        assert {c[0] for c in calls} <= {
            "notification.created",
            "notification.updated",
            "notification.read",
            "notification.deleted",
        }
        assert {c[1] for c in calls} == {"notification"} and {c[6] for c in calls} == {"service"}
        assert all(c[4] and c[5] and c[7] and c[8] and isinstance(c[3], dict) for c in calls)
        assert (
            exists
            >= report.per_table["notifications"]["inserts"] - report.per_table["notifications"]["deletes"]
        )
    else:
        assert calls == [] and sum(report.published.values()) == 0


def test_without_publish_activity_the_lost_events_are_counted(demo_db):
    _drop_logging_triggers(demo_db, "notifications")
    report = run_workload(
        demo_db, seconds=2, rate=40, connections=1, publish="auto", tables=NOTIFICATIONS_HEAVY
    )
    assert report.failed == 0, report.errors
    assert report.unpublished["notifications"] == sum(report.per_table["notifications"].values()) > 0


def test_waits_on_ddl_locks_and_counts_timeouts_as_failures_without_stopping(demo_db, monkeypatch):
    monkeypatch.setattr(workload, "STATEMENT_TIMEOUT", "1s")
    result: dict = {}
    thread = threading.Thread(
        target=lambda: result.update(r=run_workload(demo_db, seconds=5, rate=40, connections=2))
    )
    thread.start()
    time.sleep(1)
    with psycopg.connect(demo_db) as conn:  # a long ACCESS EXCLUSIVE lock, as careless DDL would take
        for table in APP_TABLES:
            conn.execute(f"LOCK TABLE public.{table} IN ACCESS EXCLUSIVE MODE")
        time.sleep(2)
    thread.join(timeout=30)
    report = result["r"]
    assert report.failed > 0 and report.ok > 40
    assert any("statement timeout" in e for e in report.errors)
    assert report.latency_p99_ms >= 900


def test_refuses_an_unseeded_database_and_bad_arguments(fresh_db):
    with pytest.raises(MigrationError, match="not seeded"):
        run_workload(fresh_db, seconds=1, rate=1)
    for kwargs, message in [
        ({"seconds": 0, "rate": 1}, "seconds"),
        ({"seconds": 1, "rate": -1}, "rate"),
        ({"seconds": 1, "rate": 1, "connections": 0}, "connections"),
        ({"seconds": 1, "rate": 1, "publish": "sometimes"}, "publish"),
        ({"seconds": 1, "rate": 1, "tables": ["planets"]}, "tables"),
    ]:
        with pytest.raises(MigrationError, match=message):
            run_workload(fresh_db, **kwargs)
    with pytest.raises(MigrationError, match="cannot connect"):
        run_workload("postgresql://x@127.0.0.1:1/db", seconds=1, rate=1)
