"""Phase 1 on a seeded demo database (real Postgres): build, re-run, RLS, validation, rollback."""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest

from activity_migration import ledger
from activity_migration.config import load_config
from activity_migration.errors import PreflightError
from activity_migration.phases import p1_infrastructure as p1
from activity_migration.phases import p2_dual_write as p2
from catalog_snapshot import diff, snapshot
from workload_helper import background_workload

CFG = load_config()


@pytest.fixture
def p1_db(demo_db):
    p1.apply(demo_db, CFG)
    return demo_db


def test_apply_is_idempotent_and_rollback_restores_the_catalog(demo_db, tmp_path):
    before = snapshot(demo_db)
    with background_workload(demo_db) as wl:
        p1.apply(demo_db, CFG)
        once = snapshot(demo_db)
        p1.apply(demo_db, CFG)
        twice = snapshot(demo_db)
        assert diff(once, twice) == {}
        # a validation run leaves views on events and an index on activity_logs: the rollback removes them
        from activity_migration.validation.runner import run_suites

        run_suites(demo_db, ["events_integrity"], data_docs_dir=tmp_path, cfg=CFG)
        p1.rollback(demo_db, CFG)
    assert wl["report"].failed == 0
    assert diff(before, snapshot(demo_db)) == {}
    with psycopg.connect(demo_db) as conn:
        steps = [
            r[0]
            for r in conn.execute(
                "SELECT step FROM activity_migration.phase_ledger WHERE phase = "
                "'p1_infrastructure' AND status = 'succeeded' ORDER BY id"
            )
        ]
    assert steps.count("verify") == 2 and steps[-1] == "rollback"


def test_rollback_with_drop_state_removes_the_state_schema(p1_db):
    p1.rollback(p1_db, CFG, drop_state=True)
    with psycopg.connect(p1_db) as conn:
        assert not ledger.state_schema_exists(conn, CFG)


def test_indexes_valid_and_analytics_refresh(p1_db):
    with psycopg.connect(p1_db) as conn:
        names = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'events'")}
        assert set(p1.INDEX_NAMES) <= names
        assert (
            conn.execute(
                "SELECT count(*) FROM pg_index WHERE indrelid = 'public.events'::regclass AND NOT indisvalid"
            ).fetchone()[0]
            == 0
        )
        for i in range(3):
            conn.execute(
                "SELECT public.publish_activity(p_event_type => 'payment.created', p_entity_type => "
                "'payment', "
                "p_actor_id => %s, p_description => 'wire transfer received')",
                (str(uuid.uuid4()),),
            )
        conn.execute("SELECT public.refresh_event_analytics()")
        assert conn.execute("SELECT sum(events) FROM public.event_daily_counts").fetchone()[0] == 3
        assert (
            conn.execute(
                "SELECT count(*) FROM public.events WHERE (to_tsvector('simple'::regconfig, "
                "coalesce(description, '')) || jsonb_to_tsvector('simple'::regconfig, payload, "
                "'[\"string\"]'::jsonb)) @@ to_tsquery('simple', 'wire')"
            ).fetchone()[0]
            == 3
        )


def test_invalid_index_is_dropped_and_rebuilt(p1_db):
    with psycopg.connect(p1_db, autocommit=True) as conn:
        conn.execute(
            "UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'public.events_entity_idx'::regclass"
        )
    p1.build_indexes(p1_db, CFG)
    with psycopg.connect(p1_db) as conn:
        assert (
            conn.execute(
                "SELECT indisvalid FROM pg_index WHERE indexrelid = 'public.events_entity_idx'::regclass"
            ).fetchone()[0]
            is True
        )


BAD_INPUTS = [
    ({"p_event_type": "Payment Created", "p_entity_type": "payment"}, "invalid_event_type"),
    (
        {"p_event_type": "payment.created", "p_entity_type": "payment", "p_payload": "[1, 2]"},
        "payload_not_object",
    ),
    (
        {
            "p_event_type": "payment.created",
            "p_entity_type": "payment",
            "p_payload": json.dumps({"x": "y" * 1_100_000}),
        },
        "payload_too_large",
    ),
    ({"p_event_type": "spaceship.created", "p_entity_type": "spaceship"}, "unknown_entity_type"),
    (
        {"p_event_type": "payment.created", "p_entity_type": "payment", "p_occurred_at": "1990-01-01"},
        "occurred_at_out_of_range",
    ),
    (
        {"p_event_type": "payment.created", "p_entity_type": "payment", "p_occurred_at": "2999-01-01"},
        "occurred_at_out_of_range",
    ),
    ({"p_event_type": "payment.cre\x07ated", "p_entity_type": "payment"}, "broken_text"),
    ({"p_event_type": "payment.created", "p_entity_type": "payment", "p_source": "robot"}, "invalid_source"),
]


@pytest.mark.parametrize("args, reason", BAD_INPUTS, ids=[r for _, r in BAD_INPUTS])
def test_publish_activity_rejects_bad_input_and_writes_nothing(p1_db, args, reason):
    casts = {"p_payload": "::jsonb", "p_occurred_at": "::timestamptz"}
    call = ", ".join(f"{k} => %({k})s{casts.get(k, '')}" for k in args)
    with psycopg.connect(p1_db) as conn:
        with pytest.raises(psycopg.errors.InvalidParameterValue) as exc:
            conn.execute(f"SELECT public.publish_activity({call})", args)
        conn.rollback()
        assert reason in str(exc.value) and exc.value.diag.message_detail
        assert conn.execute("SELECT count(*) FROM public.events").fetchone()[0] == 0


def test_publish_activity_sanitizes_and_helpers_work(p1_db):
    uid = str(uuid.uuid4())
    with psycopg.connect(p1_db) as conn:
        conn.execute(
            "SELECT public.publish_activity(p_event_type => ' payment.created ', p_entity_type => 'payment', "
            "p_actor_id => %s, p_description => E'  paid\\x01 in full\\x1f  ')",
            (uid,),
        )
        conn.execute("SELECT public.publish_auth_event('login', %s, '10.0.0.1', 'ua', false)", (uid,))
        conn.execute("SELECT public.publish_batch_operation('user_import', 25, %s)", (uid,))
        conn.execute(
            "SELECT public.publish_entity_change('payment_plan', 'p1', 'updated', "
            '\'{"status": "draft", "amount": 5}\', \'{"status": "active", "amount": 5}\', %s)',
            (uid,),
        )
        rows = {
            r[0]: r[1:]
            for r in conn.execute(
                "SELECT event_type, category, description, payload, source FROM public.events ORDER BY "
                "occurred_at"
            )
        }
    assert rows["payment.created"][1] == "paid in full" and rows["payment.created"][3] == "service"
    assert rows["auth.login"][0] == "authentication" and rows["auth.login"][2] == {"success": False}
    assert rows["bulk_operation.user_import"][2]["item_count"] == 25
    assert rows["payment_plan.updated"][2] == {
        "changed_fields": ["status"],
        "old": {"status": "draft"},
        "new": {"status": "active"},
    }


def test_rls_authenticated_sees_only_own_events_and_anon_none(p1_db):
    actors = [str(uuid.uuid4()) for _ in range(4)]
    with psycopg.connect(p1_db) as conn:
        for a in actors:
            for _ in range(3):
                conn.execute(
                    "SELECT public.publish_activity(p_event_type => 'token.minted', p_entity_type => "
                    "'token', p_actor_id => %s)",
                    (a,),
                )
        conn.commit()
        for a in actors + [str(uuid.uuid4())]:
            with conn.transaction():
                conn.execute("SET LOCAL ROLE authenticated")
                conn.execute("SELECT set_config('request.jwt.claims', %s, true)", (json.dumps({"sub": a}),))
                conn.execute("SELECT set_config('request.jwt.claim.sub', %s, true)", (a,))
                seen = {str(r[0]) for r in conn.execute("SELECT actor_id FROM public.events")}
                assert seen <= {a}
                assert len(conn.execute("SELECT 1 FROM public.events").fetchall()) == (
                    3 if a in actors else 0
                )
                # an authenticated user cannot write events directly, only through publish_activity
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    with conn.transaction():
                        conn.execute(
                            "INSERT INTO public.events (event_type, category, entity_type, source, "
                            "occurred_at) VALUES ('token.x', 'token', 'token', 'service', now())"
                        )
        with conn.transaction():
            conn.execute("SET LOCAL ROLE anon")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SELECT count(*) FROM public.events")
        with conn.transaction():
            conn.execute("SET LOCAL ROLE anon")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SELECT public.publish_activity('token.x', 'token')")
        with conn.transaction():
            conn.execute("SET LOCAL ROLE service_role")
            assert conn.execute("SELECT count(*) FROM public.events").fetchone()[0] == 12


def test_preflight_names_each_problem(demo_db):
    with psycopg.connect(demo_db, autocommit=True) as conn:
        conn.execute("ALTER TABLE public.activity_logs RENAME COLUMN user_agent TO ua")
    with pytest.raises(
        PreflightError, match=r"user_agent to public.activity_logs.user_agent, which does not exist"
    ):
        p1.preflight(demo_db, CFG)
    with psycopg.connect(demo_db, autocommit=True) as conn:
        conn.execute("ALTER TABLE public.activity_logs RENAME COLUMN ua TO user_agent")
        conn.execute("CREATE TABLE public.events (id int)")
    with pytest.raises(PreflightError, match="exists with a different shape"):
        p1.preflight(demo_db, CFG)
    with psycopg.connect(demo_db, autocommit=True) as conn:
        conn.execute("DROP TABLE public.events")
        conn.execute("ALTER FUNCTION auth.uid() RENAME TO uid_gone")
    with pytest.raises(PreflightError, match=r"auth.uid\(\) does not exist"):
        p1.preflight(demo_db, CFG)


def test_preflight_refuses_a_foreign_events_table(demo_db):
    with psycopg.connect(demo_db, autocommit=True) as conn:
        key = conn.execute(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = "
            "'public.activity_logs'::regclass AND attname = 'id'"
        ).fetchone()[0]
        conn.execute(f"""CREATE TABLE public.events (id uuid, event_type text, category text, actor_id uuid,
            customer_id uuid, entity_type text, entity_id text, description text, payload jsonb, source text,
            legacy_activity_log_id {key}, ip_address inet, user_agent text, occurred_at timestamptz,
            created_at timestamptz)""")
    with pytest.raises(PreflightError, match="no record of phase 1 creating it"):
        p1.preflight(demo_db, CFG)


def test_rollback_refused_while_dual_write_is_on(p1_db):
    p2.apply(p1_db, CFG)
    with psycopg.connect(p1_db) as conn:
        conn.execute(
            "SELECT public.publish_activity(p_event_type => 'token.minted', p_entity_type => 'token')"
        )
        conn.commit()
    with pytest.raises(PreflightError, match="roll back p2_dual_write first"):
        p1.rollback(p1_db, CFG)
    p2.rollback(p1_db, CFG)
    p1.rollback(p1_db, CFG)
    with psycopg.connect(p1_db) as conn:
        # events written meanwhile were archived, not silently lost
        assert (
            conn.execute(
                "SELECT count(*) FROM activity_migration.events_rollback_archive "
                "WHERE event_type = 'token.minted'"
            ).fetchone()[0]
            == 1
        )
        assert conn.execute("SELECT to_regclass('public.events')").fetchone()[0] is None
