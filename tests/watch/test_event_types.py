"""The event-type registry on a real demo database: phase 1 registers the legacy types, a service
call with a new type is accepted and reported as unregistered, publish_activity takes no lock on
the registry, and the set-based recount is exact as of its snapshot while the workload writes."""

from __future__ import annotations

import time

import psycopg

import _forward
from activity_migration.cli import main as cli
from activity_migration.demo.realtime import NEW_EVENT_TYPE, publish_new_event_type
from activity_migration.event_types import registry
from workload_helper import Background

CFG = _forward.CFG


def _registered(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        return {r["event_type"] for r in registry.list_types(conn, CFG) if r["registered"]}


def test_phase1_registers_the_legacy_types_and_a_new_service_type_is_reported(demo_db, capsys):
    _forward.p1(demo_db)
    with psycopg.connect(demo_db) as conn:
        legacy = {
            r[0]
            for r in conn.execute(
                """
                SELECT DISTINCT activity_migration.event_type_for(entity_type, action)
                  FROM public.activity_logs
                 WHERE activity_migration.event_rejection_reason(
                           activity_migration.event_type_for(entity_type, action),
                           btrim(entity_type), '{}'::jsonb, now()) IS NULL
                """
            )
        }
        rows = {r["event_type"]: r for r in registry.list_types(conn, CFG)}
    assert legacy and legacy <= set(rows), sorted(legacy - set(rows))[:5]
    some = rows[sorted(legacy)[0]]
    assert some["registered_by"] == registry.LEGACY_REGISTRANT and some["category"] in CFG.categories.values()
    assert rows["user.created"]["has_label"] is True  # a label template in the config
    assert NEW_EVENT_TYPE not in rows

    event_id = publish_new_event_type(demo_db)  # accepted: never lose an event
    assert event_id
    with psycopg.connect(demo_db) as conn:
        unregistered = registry.unregistered_event_types(conn, CFG)
        section = registry.event_types_section(conn, CFG)
    assert [(u["event_type"], u["event_count"], u["sources"]) for u in unregistered] == [
        (NEW_EVENT_TYPE, 1, ["service"])
    ]
    assert section["unregistered"][0]["event_type"] == NEW_EVENT_TYPE
    assert cli(["event-types", "list", "--refresh", "--dsn", demo_db]) == 1
    assert f"unregistered (live): {NEW_EVENT_TYPE} (1)" in capsys.readouterr().out

    assert (
        cli(
            [
                "event-types",
                "register",
                NEW_EVENT_TYPE,
                "--by",
                "ops@example.com",
                "--description",
                "weekly digest",
                "--dsn",
                demo_db,
            ]
        )
        == 0
    )
    with psycopg.connect(demo_db) as conn:
        assert registry.unregistered_event_types(conn, CFG) == []
        row = registry.describe(conn, CFG, NEW_EVENT_TYPE)
    assert (row["registered_by"], row["category"], row["live_count"]) == (
        "ops@example.com",
        "communication",
        1,
    )
    assert cli(["event-types", "list", "--dsn", demo_db]) == 0


def test_publish_activity_takes_no_lock_on_the_registry(demo_db):
    _forward.p1(demo_db)
    with psycopg.connect(demo_db) as holder, psycopg.connect(demo_db) as app:
        holder.execute("LOCK TABLE activity_migration.event_types IN ACCESS EXCLUSIVE MODE")
        app.execute("SET lock_timeout = '500ms'")
        event_id = app.execute(
            "SELECT public.publish_activity(p_event_type => 'notification.lock_probe', "
            "p_entity_type => 'notification', p_source => 'service')"
        ).fetchone()[0]
        app.commit()
        holder.rollback()
    assert event_id is not None


def _compare_in_one_snapshot(dsn: str) -> tuple[int, int]:
    """Recount and read events in the same REPEATABLE READ snapshot: they must agree exactly."""
    with psycopg.connect(dsn) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        totals = registry.refresh_counts(conn, CFG)
        counted = dict(
            conn.execute(
                "SELECT event_type, event_count FROM activity_migration.event_types WHERE event_count > 0"
            ).fetchall()
        )
        actual = dict(conn.execute("SELECT event_type, count(*) FROM public.events GROUP BY 1").fetchall())
        conn.commit()
    assert counted == actual
    assert totals["events"] == sum(actual.values())
    return totals["events"], len(actual)


def test_counts_stay_exact_under_the_workload(demo_db):
    _forward.p1(demo_db)
    _forward.p2(demo_db)  # dual write: every logged app write is an event too
    bg = Background(demo_db, rate=40, connections=3, seconds=120)
    seen = []
    try:
        for _ in range(4):
            time.sleep(1.5)
            seen.append(_compare_in_one_snapshot(demo_db))
    finally:
        report = bg.stop()
    assert report.failed == 0, report.summary()
    assert seen[-1][0] > seen[0][0], seen  # events kept arriving while the recounts ran
    final, _ = _compare_in_one_snapshot(demo_db)
    with psycopg.connect(demo_db) as conn:
        assert final == conn.execute("SELECT count(*) FROM public.events").fetchone()[0]
