"""Phase 3 on a real Postgres with the seeded demo app: feed, RLS, parity gate, read source, rollback,
plan."""

from __future__ import annotations

import time
import uuid

import psycopg
import pytest

from _forward import CFG, CTX, p1, p2, p4
from activity_migration import ledger
from activity_migration.errors import GateClosed
from activity_migration.phases import p3_read_path as p3
from catalog_snapshot import diff, snapshot
from workload_helper import Background


@pytest.fixture(scope="module")
def migrated(pg_admin_dsn, demo_template):
    """One database for the read-only tests: phases 1, 2 (app writes after the switch), 3 and 4 applied."""
    from testdb import create_database, drop_database

    name, dsn = create_database(pg_admin_dsn, template=demo_template)
    try:
        p1(dsn)
        p2(dsn)
        bg = Background(dsn, rate=80)
        try:
            time.sleep(2)
            p3.apply(dsn, CFG, CTX)
            p4(dsn)
        finally:
            report = bg.stop()
        assert report.transactions_failed == 0, report.summary()
        yield dsn
    finally:
        drop_database(pg_admin_dsn, name)


def _as_user(conn, user_id: str):
    return p3.as_app_user(conn, user_id)


def test_feed_shows_the_same_first_pages_as_the_old_query_for_sample_users(migrated):
    report = p3.require_read_parity(migrated, CFG, p3.ParitySettings(top_users=20, random_users=5), CTX)
    assert report["passed"] and report["users"] >= 20
    assert report["compared_rows"] > 500, report
    assert report["pending_backfill_rows"] == 0
    with psycopg.connect(migrated) as conn:
        assert ledger.last_step(conn, "p3_read_path", "read_parity", cfg=CFG)["status"] == "succeeded"


def test_feed_never_returns_another_users_rows_and_anon_gets_nothing(migrated):
    with psycopg.connect(migrated) as conn:
        users = [
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT user_id::text FROM public.activity_logs WHERE user_id IS NOT NULL LIMIT 15"
            )
        ]
        conn.commit()
        seen_total = 0
        for u in users + [str(uuid.uuid4())]:
            with _as_user(conn, u):
                rows = conn.execute(
                    "SELECT actor_id::text FROM public.event_feed(p_page_size => 200)"
                ).fetchall()
                compat = conn.execute(
                    "SELECT DISTINCT user_id::text FROM public.activity_logs_compat"
                ).fetchall()
            assert {r[0] for r in rows} <= {u}, f"user {u} saw events of {set(r[0] for r in rows) - {u}}"
            assert {r[0] for r in compat} <= {u}
            seen_total += len(rows)
        assert seen_total > 0
        with conn.transaction(force_rollback=True):
            conn.execute("SET LOCAL ROLE anon")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SELECT * FROM public.event_feed()")


def test_page_size_is_bounded_and_cursor_needs_both_parts(migrated):
    with psycopg.connect(migrated, autocommit=True) as conn:
        for bad in (0, 201, None):
            with pytest.raises(
                psycopg.errors.InvalidParameterValue, match="p_page_size must be between 1 and 200"
            ):
                conn.execute("SELECT * FROM public.event_feed(p_page_size => %s)", (bad,))
        with pytest.raises(
            psycopg.errors.InvalidParameterValue, match="p_before_id needs p_before_occurred_at"
        ):
            conn.execute("SELECT * FROM public.event_feed(p_before_id => gen_random_uuid())")
        assert len(conn.execute("SELECT * FROM public.event_feed(p_page_size => 200)").fetchall()) == 200


def test_keyset_pages_are_disjoint_ordered_and_filters_apply(migrated):
    with psycopg.connect(migrated, autocommit=True) as conn:
        seen, cursor, last = set(), (None, None), None
        for _ in range(5):
            page = conn.execute(
                "SELECT occurred_at, id, category FROM public.event_feed(%s, %s, 50)", cursor
            ).fetchall()
            for r in page:
                assert r[1] not in seen
                assert last is None or (r[0], r[1]) < last
                seen.add(r[1])
                last = (r[0], r[1])
            cursor = (page[-1][0], page[-1][1])
        cat = conn.execute("SELECT category FROM public.events LIMIT 1").fetchone()[0]
        cats = {
            r[0] for r in conn.execute("SELECT category FROM public.event_feed(p_category => %s)", (cat,))
        }
        assert cats == {cat}
        ent = conn.execute(
            "SELECT entity_type, entity_id FROM public.events WHERE entity_id IS NOT NULL LIMIT 1"
        ).fetchone()
        rows = conn.execute(
            "SELECT entity_type, entity_id FROM public.event_feed(p_entity_type => %s, p_entity_id => %s)",
            ent,
        ).fetchall()
        assert rows and set(rows) == {ent}


def test_parity_fails_listing_the_differences_and_blocks_the_switch(demo_db):
    p1(demo_db)
    p3.apply(demo_db, CFG, CTX)
    with pytest.raises(GateClosed, match="missing in feed"):  # no dual write, no backfill: history is missing
        p3.require_read_parity(demo_db, CFG, p3.ParitySettings(top_users=2, random_users=0), CTX)
    p2(demo_db)
    p4(demo_db)
    p3.require_read_parity(demo_db, CFG, p3.ParitySettings(top_users=3, random_users=0), CTX)
    migrated = demo_db
    with psycopg.connect(migrated) as conn:
        uid, legacy = conn.execute(
            "SELECT user_id::text, id::text FROM public.activity_logs WHERE user_id = "
            "(SELECT user_id FROM public.activity_logs WHERE user_id IS NOT NULL GROUP BY 1 "
            "ORDER BY count(*) DESC LIMIT 1) ORDER BY created_at DESC, id DESC LIMIT 1"
        ).fetchone()
        conn.execute("DELETE FROM public.events WHERE legacy_activity_log_id = %s::uuid", (legacy,))
        conn.commit()
    with pytest.raises(GateClosed, match=f"user {uid}: missing in feed \\['{legacy}'\\]"):
        p3.require_read_parity(migrated, CFG, p3.ParitySettings(top_users=3, random_users=0), CTX)
    with pytest.raises(GateClosed, match="only after a passed read-path parity check"):
        p3.set_read_source(migrated, "events", CFG, CTX, parity_report={"passed": False})


def test_read_source_switch_is_read_by_the_app_and_rollback_removes_everything(demo_db):
    p1(demo_db)
    p2(demo_db)
    p4(demo_db)
    before = snapshot(demo_db)
    p3.apply(demo_db, CFG, CTX)
    p3.apply(demo_db, CFG, CTX)  # idempotent
    p3.verify(demo_db, CFG)
    with psycopg.connect(demo_db) as conn:
        with _as_user(conn, str(uuid.uuid4())):
            assert conn.execute("SELECT public.activity_read_source()").fetchone()[0] == "activity_logs"
        pub = conn.execute(
            "SELECT count(*) FROM pg_publication_tables WHERE pubname = 'supabase_realtime' "
            "AND tablename = 'events'"
        ).fetchone()[0]
    assert pub == 1, "the demo database gets the supabase_realtime publication with events in it"
    report = p3.require_read_parity(demo_db, CFG, p3.ParitySettings(top_users=5, random_users=2), CTX)
    p3.set_read_source(demo_db, "events", CFG, CTX, parity_report=report)
    with psycopg.connect(demo_db) as conn:
        with _as_user(conn, str(uuid.uuid4())):
            assert conn.execute("SELECT public.activity_read_source()").fetchone()[0] == "events"
    out = p3.rollback(demo_db, CFG, CTX)
    assert out["publication"] == {"dropped_events": True, "dropped_publication": True}
    assert diff(before, snapshot(demo_db)) == {}
    with psycopg.connect(demo_db) as conn:
        assert p3.get_read_source(conn, CFG) == "activity_logs"
        assert not conn.execute("SELECT 1 FROM pg_publication WHERE pubname = 'supabase_realtime'").fetchone()
        assert ledger.last_step(conn, "p3_read_path", "rollback", cfg=CFG)["status"] == "succeeded"


def _function_plans(conn, sql_text: str, params=()) -> list[str]:
    """Plans of the statements run inside the function (auto_explain, nested statements)."""
    plans: list[str] = []
    conn.add_notice_handler(lambda d: plans.append(d.message_primary or ""))
    conn.execute(sql_text, params).fetchall()
    return [p for p in plans if "Query Text" in p or "Scan" in p or "Limit" in p]


def test_feed_plan_is_an_index_scan_on_200k_events(demo_db):
    p1(demo_db)
    p3.apply(demo_db, CFG, CTX)
    with psycopg.connect(demo_db) as conn:
        conn.execute("""
            INSERT INTO public.events (event_type, category, actor_id, customer_id, entity_type, entity_id,
                payload,
                                       source, occurred_at)
            SELECT 'payment.updated', 'financial', u.ids[1 + g % 300], u.ids[1 + g % 17], 'payment', (g %
                5000)::text,
                   '{}'::jsonb, 'service', now() - make_interval(secs => g)
            FROM generate_series(1, 200000) g,
                 (SELECT array_agg(gen_random_uuid()) AS ids FROM generate_series(1, 300)) u""")
        uid, cid = conn.execute(
            "SELECT actor_id::text, customer_id::text FROM public.events LIMIT 1"
        ).fetchone()
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE public.events")
        try:
            conn.execute("LOAD 'auto_explain'")
        except psycopg.Error:
            pytest.skip("auto_explain is not available on this server")
        conn.execute("SET auto_explain.log_min_duration = 0")
        conn.execute("SET auto_explain.log_nested_statements = on")
        conn.execute("SET client_min_messages = log")
        conn.autocommit = False
        with _as_user(conn, uid):
            first = _function_plans(conn, "SELECT occurred_at, id FROM public.event_feed(p_page_size => 50)")
            last = conn.execute(
                "SELECT occurred_at, id FROM public.event_feed(p_page_size => 50)"
            ).fetchall()[-1]
            nxt = _function_plans(conn, "SELECT * FROM public.event_feed(%s, %s, 50)", last)
        with conn.transaction(force_rollback=True):
            by_customer = _function_plans(
                conn, "SELECT * FROM public.event_feed(p_customer_id => %s)", (cid,)
            )
            unfiltered = _function_plans(conn, "SELECT * FROM public.event_feed()")
    for name, plans in (
        ("own feed", first),
        ("next page", nxt),
        ("customer", by_customer),
        ("all", unfiltered),
    ):
        inner = "\n".join(p for p in plans if "public.events" in p or "events e" in p)
        assert "Index Scan" in inner or "Index Only Scan" in inner, f"{name}: {inner or plans}"
        assert "Seq Scan" not in inner, f"{name}: {inner}"
