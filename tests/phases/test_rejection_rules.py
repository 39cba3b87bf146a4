"""One rejection rule for every path: event_rejection_reason judges the raw legacy action too.

``event_type_for()`` turns control characters and U+FFFD in an action into ``_``, so the event
type alone cannot show them. The backfill judges ``activity_logs.action``; publish_activity (the
phase-1 and the dual-write form) must judge ``p_legacy_action`` by the same definition, so a
legacy row is quarantined with the same reason whichever path carries it.
"""

from __future__ import annotations

import psycopg
import pytest

from activity_migration.config import load_config
from activity_migration.phases import p1_infrastructure as p1
from activity_migration.phases import p2_dual_write as p2

CFG = load_config()
BROKEN_ACTIONS = ["creat\x07ed", "caf\ufffd", "tab\tbed", "line\nfeed"]
CLEAN_ACTIONS = ["created", "status_changed", "Status Changed"]
SIX_ARGS = "text,text,jsonb,timestamp with time zone,text,text"


@pytest.fixture
def p1_db(demo_db):
    p1.apply(demo_db, CFG)
    return demo_db


def _backfill_reason(conn: psycopg.Connection, entity_type: str, action: str) -> str | None:
    """The reason exactly as include/sql/p4_backfill/04_copy_range.sql computes it for a legacy row."""
    return conn.execute(
        "SELECT activity_migration.event_rejection_reason(activity_migration.event_type_for(%(e)s, %(a)s), "
        "%(e)s, "
        "'{}'::jsonb, now(), 'd', %(a)s)",
        {"e": entity_type, "a": action},
    ).fetchone()[0]


def test_one_definition_six_arguments_and_the_old_calls_still_work(p1_db):
    with psycopg.connect(p1_db) as conn:
        forms = [
            r[0]
            for r in conn.execute(
                "SELECT p.oid::regprocedure::text FROM pg_proc p WHERE p.proname = 'event_rejection_reason' "
                "AND p.pronamespace = 'activity_migration'::regnamespace"
            )
        ]
        assert forms == [f"activity_migration.event_rejection_reason({SIX_ARGS})"]
        q = "SELECT activity_migration.event_rejection_reason('user.created', 'user', '{}'::jsonb, now()"
        assert conn.execute(q + ")").fetchone()[0] is None  # four arguments
        assert conn.execute(q + ", 'd')").fetchone()[0] is None  # five
        assert conn.execute(q + ", 'd', 'created')").fetchone()[0] is None  # six
        for action in BROKEN_ACTIONS:
            assert _backfill_reason(conn, "user", action) == "broken_text", repr(action)
        for action in CLEAN_ACTIONS:
            assert _backfill_reason(conn, "user", action) is None, repr(action)


@pytest.mark.parametrize("action", BROKEN_ACTIONS, ids=repr)
def test_phase1_publish_activity_rejects_a_broken_raw_action(p1_db, action):
    with psycopg.connect(p1_db) as conn:
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="broken_text"):
            conn.execute(
                "SELECT public.publish_activity(p_event_type => 'user.created', p_entity_type => 'user', "
                "p_legacy_action => %s)",
                (action,),
            )
        conn.rollback()
        assert conn.execute("SELECT count(*) FROM public.events").fetchone()[0] == 0


def test_dual_write_judges_the_raw_action_like_the_backfill(p1_db):
    """Trigger calls with every action: quarantined (legacy row kept) exactly when the backfill would."""
    p2.apply(p1_db, CFG)
    with psycopg.connect(p1_db) as conn:
        for i, action in enumerate(BROKEN_ACTIONS + CLEAN_ACTIONS):
            expected = _backfill_reason(conn, "user", action)
            entity_id = f"rule-probe-{i}"
            event_id = conn.execute(
                "SELECT activity_migration.publish_activity_internal(p_event_type => "
                "activity_migration.event_type_for('user', %(a)s), "
                "p_entity_type => 'user', p_entity_id => %(e)s, p_source => 'trigger', p_legacy_action => "
                "%(a)s)",
                {"a": action, "e": entity_id},
            ).fetchone()[0]
            legacy = conn.execute(
                "SELECT id, action FROM public.activity_logs WHERE entity_id = %s", (entity_id,)
            ).fetchone()
            assert legacy[1] == action, "the legacy row is written as the trigger logged it"
            reason = conn.execute(
                "SELECT reason FROM activity_migration.quarantine WHERE legacy_id = %s", (str(legacy[0]),)
            ).fetchone()
            assert (reason[0] if reason else None) == expected, repr(action)
            assert (event_id is None) == (expected is not None), repr(action)
        # The application (source service) is refused, as in phase 1.
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="broken_text"):
            conn.execute(
                "SELECT public.publish_activity(p_event_type => 'user.created', p_entity_type => 'user', "
                "p_legacy_action => %s)",
                ("creat\x07ed",),
            )
        conn.rollback()


def test_rerun_replaces_the_old_five_argument_form(p1_db):
    """A database set up before p_action existed: phase 1 re-run leaves one (six-argument) form."""
    with psycopg.connect(p1_db, autocommit=True) as conn:
        conn.execute(f"DROP FUNCTION activity_migration.event_rejection_reason({SIX_ARGS}) CASCADE")
        conn.execute("""CREATE FUNCTION activity_migration.event_rejection_reason(
                p_event_type text, p_entity_type text, p_payload jsonb, p_occurred_at timestamptz,
                p_description text DEFAULT NULL) RETURNS text LANGUAGE sql STABLE
                AS $$ SELECT NULL::text $$""")
        conn.execute(
            "CREATE VIEW activity_migration.v_old_dependent AS SELECT activity_migration."
            "event_rejection_reason('user.created', 'user', '{}', now(), 'd') AS reason"
        )
    p1.apply(p1_db, CFG)
    with psycopg.connect(p1_db) as conn:
        forms = [
            r[0]
            for r in conn.execute(
                "SELECT p.oid::regprocedure::text FROM pg_proc p WHERE p.proname = 'event_rejection_reason'"
            )
        ]
        assert forms == [f"activity_migration.event_rejection_reason({SIX_ARGS})"]
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="broken_text"):
            conn.execute(
                "SELECT public.publish_activity(p_event_type => 'user.created', p_entity_type => 'user', "
                "p_legacy_action => 'caf\ufffd')"
            )


def test_an_overlong_action_is_quarantined_by_every_path_not_turned_into_a_long_event_type(p1_db):
    """A 5,000-character action: the backfill and dual write quarantine the row (its legacy row
    kept), the API refuses the event; no event type longer than the rule is ever written."""
    long_action = "x" * 5000
    p2.apply(p1_db, CFG)
    with psycopg.connect(p1_db) as conn:
        assert _backfill_reason(conn, "user", long_action) == "event_type_too_long"
        event = conn.execute(
            "SELECT activity_migration.publish_activity_internal(p_event_type => "
            "activity_migration.event_type_for("
            "'user', %(a)s), p_entity_type => 'user', p_entity_id => 'too-long', p_source => 'trigger', "
            "p_legacy_action => %(a)s)",
            {"a": long_action},
        ).fetchone()[0]
        legacy = conn.execute("SELECT id FROM public.activity_logs WHERE entity_id = 'too-long'").fetchone()[
            0
        ]
        reason = conn.execute(
            "SELECT reason FROM activity_migration.quarantine WHERE legacy_id = %s", (str(legacy),)
        ).fetchone()[0]
        assert event is None and reason == "event_type_too_long"
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="event_type_too_long"):
            conn.execute(
                "SELECT public.publish_activity(p_event_type => %s, p_entity_type => 'user')",
                ("user." + long_action,),
            )
        conn.rollback()
        assert (
            conn.execute("SELECT count(*) FROM public.events WHERE length(event_type) > 200").fetchone()[0]
            == 0
        )
