"""Phase 2 on a seeded demo database, with application writes running during the switch."""

from __future__ import annotations

import dataclasses

import psycopg
import pytest

from activity_migration import ledger
from activity_migration.config import Security, load_config
from activity_migration.phases import p1_infrastructure as p1
from activity_migration.phases import p2_dual_write as p2
from activity_migration.phases.p2_rewrite import UnrewritableFunction
from catalog_snapshot import diff, snapshot
from workload_helper import background_workload

CFG = load_config()


@pytest.fixture
def p1_db(demo_db):
    p1.apply(demo_db, CFG)
    return demo_db


def _defs(dsn: str, identities: list[str]) -> dict[str, str]:
    with psycopg.connect(dsn) as conn:
        return {
            i: conn.execute("SELECT pg_get_functiondef(%s::regprocedure)", (i,)).fetchone()[0]
            for i in identities
        }


def test_dual_write_exactly_once_under_load_and_byte_exact_rollback(p1_db):
    with psycopg.connect(p1_db) as conn:
        before_keys = {r[0] for r in conn.execute("SELECT id FROM public.activity_logs")}
        functions = p2.preflight(p1_db, CFG)["functions"]
    assert len(functions) >= 10
    defs_before = _defs(p1_db, functions + [p2.publish_identity(CFG)])
    catalog_before = snapshot(p1_db)

    with background_workload(p1_db) as wl:
        out = p2.apply(p1_db, CFG)
        import time

        time.sleep(3)  # writes during dual write
    assert wl["report"].failed == 0, getattr(wl["report"], "errors", None)
    cutoff = out["switch"]["cutoff"]
    assert cutoff["rows_before"] >= len(before_keys) and cutoff["cutoff_at"]

    with psycopg.connect(p1_db) as conn:
        # every row without an event existed at the switch (rows_before); every later row has one event
        no_event = conn.execute("""SELECT count(*) FROM public.activity_logs l WHERE NOT EXISTS
            (SELECT 1 FROM public.events e WHERE e.legacy_activity_log_id = l.id)""").fetchone()[0]
        linked = conn.execute(
            "SELECT count(*) FROM public.events WHERE legacy_activity_log_id IS NOT NULL"
        ).fetchone()[0]
        total = conn.execute("SELECT count(*) FROM public.activity_logs").fetchone()[0]
        dangling = conn.execute("""
            SELECT count(*) FROM public.events e WHERE legacy_activity_log_id IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM public.activity_logs l WHERE l.id = e.legacy_activity_log_id)
        """).fetchone()[0]
        spurious = conn.execute(
            "SELECT count(*) FROM public.events WHERE legacy_activity_log_id = ANY(%s)", (list(before_keys),)
        ).fetchone()[0]
        quarantined = conn.execute("SELECT count(*) FROM activity_migration.quarantine").fetchone()[0]
        mismatched = conn.execute("""
            SELECT count(*) FROM public.events e JOIN public.activity_logs l
                ON l.id = e.legacy_activity_log_id WHERE e.entity_type IS DISTINCT FROM l.entity_type
                OR e.actor_id IS DISTINCT FROM l.user_id OR e.occurred_at IS DISTINCT FROM l.created_at
        """).fetchone()[0]
        assert ledger.get_setting(conn, "dual_write", cfg=CFG)["enabled"] is True
    assert spurious == 0
    assert dangling == 0 and mismatched == 0
    assert linked > 0, "the workload wrote nothing through the rewritten triggers"
    assert linked + no_event == total
    # rows without an event: the rows at the switch, plus at most one per writer that was already
    # inside an old trigger body when the switch committed; none was created after the cutoff
    assert cutoff["rows_before"] + quarantined <= no_event <= cutoff["rows_before"] + quarantined + 8
    with psycopg.connect(p1_db) as conn:
        late = conn.execute(
            """SELECT count(*) FROM public.activity_logs l WHERE l.created_at > %s AND NOT EXISTS
            (SELECT 1 FROM public.events e WHERE e.legacy_activity_log_id = l.id)""",
            (cutoff["cutoff_at"],),
        ).fetchone()[0]
    assert late == 0

    # re-running the phase changes nothing (backups keep the originals)
    again = p2.apply(p1_db, CFG)
    assert again["switch"]["already_switched"] is True and again["backup"]["kept_existing"]

    with background_workload(p1_db) as wl:
        p2.rollback(p1_db, CFG)
    assert wl["report"].failed == 0
    assert _defs(p1_db, functions + [p2.publish_identity(CFG)]) == defs_before
    assert diff(catalog_before, snapshot(p1_db)) == {}
    with psycopg.connect(p1_db) as conn:
        assert (
            conn.execute(
                "SELECT count(*) FROM public.events WHERE legacy_activity_log_id IS NOT NULL"
            ).fetchone()[0]
            >= linked
        )  # events written meanwhile are kept
        assert ledger.get_setting(conn, "dual_write", cfg=CFG)["enabled"] is False
        assert ledger.last_step(conn, "p2_dual_write", "rollback", cfg=CFG)["status"] == "succeeded"


def test_service_calls_write_both_systems_linked(p1_db):
    p2.apply(p1_db, CFG)
    with psycopg.connect(p1_db) as conn:
        eid = conn.execute(
            "SELECT public.publish_activity(p_event_type => 'payment.refund_issued', "
            "p_entity_type => 'payment', p_entity_id => 'pay_1', p_payload => '{\"amount\": 3}')"
        ).fetchone()[0]
        row = conn.execute(
            """SELECT l.action, l.entity_type, l.entity_id, l.metadata, e.source FROM public.events e
            JOIN public.activity_logs l ON l.id = e.legacy_activity_log_id WHERE e.id = %s""",
            (eid,),
        ).fetchone()
        assert row == ("refund_issued", "payment", "pay_1", {"amount": 3}, "service")
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            conn.execute("SELECT public.publish_activity('Bad', 'payment')")
        conn.rollback()


def test_trigger_rows_the_rules_reject_are_kept_and_quarantined(p1_db):
    p2.apply(p1_db, CFG)
    with psycopg.connect(p1_db) as conn:
        conn.execute("DELETE FROM activity_migration.entity_categories WHERE entity_type = 'payment_plan'")
        conn.execute(
            "UPDATE public.payment_plans SET id = id WHERE ctid = (SELECT ctid FROM public.payment_plans "
            "LIMIT 1)"
        )
        q = conn.execute("SELECT reason FROM activity_migration.quarantine").fetchall()
        conn.rollback()
    assert q == [("unknown_entity_type",)]


def test_unrewritable_function_stops_before_any_change(p1_db):
    with psycopg.connect(p1_db, autocommit=True) as conn:
        conn.execute("""CREATE FUNCTION public.log_odd_activity() RETURNS trigger LANGUAGE plpgsql AS $f$
            BEGIN INSERT INTO activity_logs (action, entity_type) VALUES ('x', 'user') ON CONFLICT DO NOTHING;
            RETURN NEW; END $f$""")
        conn.execute(
            "CREATE TRIGGER users_odd AFTER INSERT ON public.users FOR EACH ROW "
            "EXECUTE FUNCTION public.log_odd_activity()"
        )
    before = snapshot(p1_db)
    with pytest.raises(UnrewritableFunction, match=r"log_odd_activity\(\).*INSERT INTO activity_logs"):
        p2.apply(p1_db, CFG)
    assert diff(before, snapshot(p1_db)) == {}
    with psycopg.connect(p1_db) as conn:
        assert conn.execute("SELECT count(*) FROM activity_migration.ddl_backups").fetchone()[0] == 0


def test_integer_keys_record_max_key(pg_admin_dsn):
    from legacy_app import create_legacy_app
    from testdb import create_database, drop_database

    name, dsn = create_database(pg_admin_dsn, prefix="amt_p2int")
    try:
        create_legacy_app(dsn, key_type="bigint", history=5)
        cfg = dataclasses.replace(CFG, security=Security())  # this app has no customers to check
        p1.apply(dsn, cfg)
        out = p2.apply(dsn, cfg)
        assert out["switch"]["cutoff"]["max_key"] == 5 and out["switch"]["cutoff"]["rows_before"] == 5
        with psycopg.connect(dsn) as conn:
            conn.execute("INSERT INTO public.notes (author_id, body) VALUES (NULL, 'x')")
            conn.execute("INSERT INTO public.emails (sender_id, subject) VALUES (NULL, 'it''s, (odd)')")
            rows = conn.execute("""
                SELECT l.id, e.event_type, e.legacy_activity_log_id FROM public.activity_logs l
                  LEFT JOIN public.events e ON e.legacy_activity_log_id = l.id WHERE l.id > 5 ORDER BY l.id
            """).fetchall()
        assert [(r[1], r[0] == r[2]) for r in rows] == [("document.insert", True), ("email.insert", True)]
        p2.rollback(dsn, cfg)
    finally:
        drop_database(pg_admin_dsn, name)


def test_text_ip_column_dual_write_never_fails_the_application_write(demo_db):
    """An application that keeps the ip address as text, and whose triggers may log any text
    there: after the switch a value that is no address ('unknown') still commits the
    application's write (the event gets no ip; a plain ::inet cast would raise), and a valid
    address reaches the legacy row as the trigger wrote it ('10.1.2.3', not '10.1.2.3/32')."""
    with psycopg.connect(demo_db, autocommit=True) as conn:
        conn.execute(
            "ALTER TABLE public.activity_logs ALTER COLUMN ip_address TYPE text USING host(ip_address)"
        )
        conn.execute("DROP FUNCTION public.request_ip()")
        conn.execute(
            "CREATE FUNCTION public.request_ip() RETURNS text LANGUAGE sql STABLE "
            "AS $$ SELECT current_setting('test.ip', true) $$"
        )
    p1.apply(demo_db, CFG)
    p2.apply(demo_db, CFG)
    with psycopg.connect(demo_db, autocommit=True) as conn:
        logged = {}
        for ip in ("unknown", "10.1.2.3"):
            conn.execute("SELECT set_config('test.ip', %s, false)", (ip,))
            uid = conn.execute(
                "INSERT INTO public.users (email) VALUES (%s) RETURNING id::text", (f"{ip}@example.com",)
            ).fetchone()[0]
            logged[ip] = conn.execute(
                "SELECT l.ip_address, e.ip_address::text, e.source FROM public.activity_logs l "
                "JOIN public.events e ON e.legacy_activity_log_id = l.id "
                "WHERE l.entity_type = 'user' AND l.entity_id = %s",
                (uid,),
            ).fetchall()
    assert logged["unknown"] == [(None, None, "trigger")]
    assert logged["10.1.2.3"] == [("10.1.2.3", "10.1.2.3/32", "trigger")]
