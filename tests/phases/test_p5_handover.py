"""Phase 5's handover: the application is told to publish for a tier's tables while the triggers
still log; one event per write; the drop happens only when the application's publishes cover
the triggers' writes on every table, and nothing is lost when it does not."""

from __future__ import annotations

import json
import time
import uuid

import psycopg
import pytest

from _forward import CFG, p1, p2
from activity_migration import catalog, tiers
from activity_migration.errors import GateClosed
from activity_migration.ledger import RunContext
from activity_migration.phases import p5_handover
from activity_migration.phases import p5_trigger_removal as p5
from workload_helper import Background

CTX = RunContext(environment="staging", mode="demo", dag_run_id="pytest-handover")
TIER1_TYPES = ["notification", "bulk_operation", "email"]


def _ready_to_hand_over(dsn: str, tier: int = 1) -> None:
    p1(dsn)
    p2(dsn)
    p5.baseline(dsn, CFG, CTX, tier, window_s=0.2, probe_writes=5)
    p5.backup(dsn, CFG, CTX, tier)
    p5_handover.handover(dsn, CFG, CTX, tier)


def _as_user(conn: psycopg.Connection, user: str) -> None:
    conn.execute("SET LOCAL ROLE authenticated")
    conn.execute("SELECT set_config('request.jwt.claims', %s, true)", (json.dumps({"sub": user}),))


def _a_user(dsn: str) -> tuple[str, str]:
    with psycopg.connect(dsn) as conn:
        return tuple(
            str(v)
            for v in conn.execute(
                "SELECT id, customer_id FROM public.users WHERE id = user_id ORDER BY id LIMIT 1"
            ).fetchone()
        )


def test_the_application_reads_who_logs_each_table(demo_db):
    _ready_to_hand_over(demo_db)
    with psycopg.connect(demo_db) as conn:
        _as_user(conn, str(uuid.uuid4()))
        told = {
            t: conn.execute("SELECT public.activity_publisher(%s)", (t,)).fetchone()[0]
            for t in ["public.notifications", "public.emails", "public.users"]
        }
    assert told == {
        "public.notifications": "application",
        "public.emails": "application",
        "public.users": "trigger",
    }


@pytest.mark.parametrize("publish_first", [False, True])
def test_a_write_and_its_publish_in_one_transaction_give_one_event_and_one_legacy_row(demo_db, publish_first):
    """Whichever comes first, the trigger's event and the application's publish pair up."""
    _ready_to_hand_over(demo_db)
    user, customer = _a_user(demo_db)
    with psycopg.connect(demo_db) as conn:
        _as_user(conn, user)
        nid = str(uuid.uuid4())
        publish = (
            "SELECT public.publish_activity(p_event_type => 'notification.created', "
            "p_entity_type => 'notification', p_entity_id => %s, p_actor_id => %s, p_customer_id => %s)"
        )
        if publish_first:
            conn.execute(publish, (nid, user, customer))
        conn.execute(
            "INSERT INTO public.notifications (id, customer_id, user_id, title) VALUES (%s, %s, %s, 'hi')",
            (nid, customer, user),
        )
        if not publish_first:
            conn.execute(publish, (nid, user, customer))
        conn.commit()
    with psycopg.connect(demo_db) as conn:
        events = conn.execute("SELECT id, source FROM public.events WHERE entity_id = %s", (nid,)).fetchall()
        legacy = conn.execute(
            "SELECT count(*) FROM public.activity_logs WHERE entity_id = %s", (nid,)
        ).fetchone()[0]
        confirmed = conn.execute(
            "SELECT confirmed_by FROM activity_migration.publish_confirmations WHERE event_id = %s",
            (events[0][0],),
        ).fetchall()
    assert len(events) == 1 and legacy == 1
    assert events[0][1] == ("service" if publish_first else "trigger")
    assert confirmed == [("trigger" if publish_first else "service",)]


def test_readiness_names_the_table_the_application_does_not_publish_for(demo_db):
    """Notifications published, emails not: the sensor waits one window, then fails naming emails;
    the tables go back to the triggers and the drop is refused. Every write kept its log row."""
    _ready_to_hand_over(demo_db)
    user, customer = _a_user(demo_db)
    started = time.time()
    verdicts = []
    for _ in range(3):
        assert p5_handover.readiness_poke(
            demo_db, CFG, CTX, 1, window_s=1.0, min_ratio=0.95, min_writes=2
        ).state in ("wait", "fail")
        with psycopg.connect(demo_db) as conn:
            for _ in range(3):
                with conn.transaction():
                    _as_user(conn, user)
                    nid = conn.execute(
                        "INSERT INTO public.notifications (customer_id, user_id, title) "
                        "VALUES (%s, %s, 'x') RETURNING id::text",
                        (customer, user),
                    ).fetchone()[0]
                    conn.execute(
                        "SELECT public.publish_activity('notification.created', 'notification', %s, "
                        "p_customer_id => %s)",
                        (nid, customer),
                    )
                    conn.execute(
                        "INSERT INTO public.emails (customer_id, user_id, subject) VALUES (%s, %s, 's')",
                        (customer, user),
                    )
                    conn.execute(
                        "INSERT INTO public.bulk_operations (customer_id, user_id) VALUES (%s, %s)",
                        (customer, user),
                    )
        time.sleep(1.1)
        verdicts.append(
            p5_handover.readiness_poke(demo_db, CFG, CTX, 1, window_s=1.0, min_ratio=0.95, min_writes=2)
        )
        if verdicts[-1].state == "fail":
            break
    assert verdicts[-1].state == "fail", [v.message for v in verdicts]
    assert verdicts[0].state == "wait" and "one more window" in verdicts[0].message
    fail = verdicts[-1]
    assert fail.figures["low"] == ["public.bulk_operations", "public.emails"]
    assert fail.figures["tables"]["public.notifications"]["ratio"] == 1.0
    with psycopg.connect(demo_db) as conn:
        assert p5_handover.publishers(conn, CFG)["public.emails"] == "trigger"
        assert (
            len([t for t in catalog.logging_triggers(conn, CFG) if t.table in CFG.tier(1).table_names]) == 13
        )
        unlogged = conn.execute(
            "SELECT count(*) FROM public.activity_logs l WHERE l.created_at >= to_timestamp(%s) "
            "AND NOT EXISTS (SELECT 1 FROM public.events e WHERE e.legacy_activity_log_id = l.id)",
            (started,),
        ).fetchone()[0]
    assert unlogged == 0
    with pytest.raises(GateClosed, match="handover"):
        p5.apply(demo_db, CFG, CTX, 1)


def test_a_tier_whose_application_never_publishes_is_refused_before_the_drop_and_loses_nothing(demo_db):
    """The demo application that never publishes, writing through the whole handover: the
    readiness sensor fails, the triggers stay, and every write has its log row and event."""
    _ready_to_hand_over(demo_db)
    with psycopg.connect(demo_db) as conn:
        since = conn.execute("SELECT clock_timestamp()").fetchone()[0]
    bg = Background(demo_db, publish="never", rate=80)
    try:
        verdict = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            verdict = p5_handover.readiness_poke(demo_db, CFG, CTX, 1, window_s=2.0, min_ratio=0.95)
            if verdict.state == "fail":
                break
            time.sleep(0.5)
    finally:
        report = bg.stop()
    assert report.failed == 0
    assert verdict is not None and verdict.state == "fail", verdict and verdict.message
    assert "does not publish" in verdict.message
    writes = sum(sum(report.per_table[t.split(".")[1]].values()) for t in CFG.tier(1).table_names)
    with psycopg.connect(demo_db) as conn:
        logged, with_event = conn.execute(
            "SELECT count(*), count(e.id) FROM public.activity_logs l LEFT JOIN public.events e "
            "ON e.legacy_activity_log_id = l.id WHERE l.created_at >= %s AND l.entity_type = ANY(%s)",
            (since, TIER1_TYPES),
        ).fetchone()
        assert tiers.tier_states(conn, CFG)[1]["status"] == "backed_up"
    assert writes > 0 and logged == writes  # every write of the tier's tables has its log row ...
    assert with_event == logged  # ... and its event: 0 writes without either
