"""Carrying the legacy log's access rules over to events: the translation of policy expressions
(pure), and the policies phase 1 creates from a real catalog."""

from __future__ import annotations

import dataclasses

import psycopg
import pytest

from activity_migration import access_rules
from activity_migration.config import Security, load_config
from activity_migration.errors import PreflightError

CFG = load_config()
LEGACY = {
    "id",
    "user_id",
    "customer_id",
    "action",
    "entity_type",
    "entity_id",
    "description",
    "metadata",
    "ip_address",
    "user_agent",
    "created_at",
    "tenant",
}


@pytest.mark.parametrize(
    "legacy, events",
    [
        ("(user_id = auth.uid())", "(actor_id = auth.uid())"),
        (
            "(EXISTS ( SELECT 1 FROM profiles p WHERE ((p.id = auth.uid()) AND (p.role = 'staff'::text))))",
            "(EXISTS ( SELECT 1 FROM profiles p WHERE ((p.id = auth.uid()) AND (p.role = 'staff'::text))))",
        ),
        # an outer column inside a sub-select stays bound to the policy's table
        (
            "(EXISTS ( SELECT 1 FROM users u WHERE ((u.id = auth.uid()) AND (u.customer_id = "
            "activity_logs.customer_id))))",
            "(EXISTS ( SELECT 1 FROM users u WHERE ((u.id = auth.uid()) AND (u.customer_id = "
            "events.customer_id))))",
        ),
        ("(action = 'login'::text)", "((substr(event_type, strpos(event_type, '.') + 1)) = 'login'::text)"),
        ("(created_at > (now() - '30 days'::interval))", "(occurred_at > (now() - '30 days'::interval))"),
        (
            "((metadata ->> 'visibility'::text) = 'public'::text)",
            "((payload ->> 'visibility'::text) = 'public'::text)",
        ),
        ("(id > 0)", "(legacy_activity_log_id > 0)"),
    ],
)
def test_policy_expressions_are_rewritten_column_by_column(legacy, events):
    assert access_rules.translate(legacy, CFG, LEGACY) == (events, [])


def test_a_column_the_config_does_not_map_is_named():
    assert access_rules.translate("(tenant = auth.uid())", CFG, LEGACY) == (None, ["tenant"])


def test_phase_1_carries_a_staff_only_rule_and_stops_on_an_untranslatable_one(demo_db):
    from activity_migration.phases import p1_infrastructure as p1

    with psycopg.connect(demo_db, autocommit=True) as conn:
        conn.execute("ALTER TABLE public.activity_logs ADD COLUMN tenant uuid")
        conn.execute("DROP POLICY activity_logs_select_own ON public.activity_logs")
        conn.execute(
            "CREATE POLICY staff_read ON public.activity_logs FOR SELECT TO authenticated USING "
            "(EXISTS (SELECT 1 FROM public.users u WHERE u.id = auth.uid() AND u.role = 'owner'))"
        )
        conn.execute(
            "CREATE POLICY tenant_read ON public.activity_logs FOR SELECT TO authenticated "
            "USING (tenant = auth.uid())"
        )
    with pytest.raises(PreflightError, match=r"tenant_read: it uses \['tenant'\]"):
        p1.apply(demo_db, CFG)
    cfg = dataclasses.replace(
        CFG,
        security=dataclasses.replace(CFG.security, read_policies={"tenant_read": "actor_id = auth.uid()"}),
    )
    p1.apply(demo_db, cfg)
    with psycopg.connect(demo_db) as conn:
        pols = {
            r[0]: (r[1], r[2])
            for r in conn.execute(
                "SELECT policyname, roles::text, qual FROM pg_policies WHERE tablename = 'events'"
            )
        }
    assert set(pols) == {"events_staff_read", "events_tenant_read", "events_activity_logs_service_role_all"}
    assert (
        "role = 'owner'" in pols["events_staff_read"][1]
        and pols["events_tenant_read"][1] == "(actor_id = auth.uid())"
    )


def test_an_owner_reads_every_event_as_the_old_table_showed_every_row(demo_db):
    """The staff rule carried over: through events and the compatibility view, an owner sees
    what they saw in the legacy table (everyone's rows), a member still only their own."""
    from _forward import CTX, p1, p2, p4
    from activity_migration.phases import p3_read_path as p3

    with psycopg.connect(demo_db, autocommit=True) as conn:
        conn.execute(
            "CREATE POLICY owners_read_all ON public.activity_logs FOR SELECT TO authenticated USING "
            "(EXISTS (SELECT 1 FROM public.users u WHERE u.id = auth.uid() AND u.role = 'owner'))"
        )
        owner, member = (
            conn.execute(
                f"SELECT id::text FROM public.users WHERE id = user_id AND role {op} 'owner' "
                "ORDER BY id LIMIT 1"
            ).fetchone()[0]
            for op in ("=", "<>")
        )
    p1(demo_db)
    p2(demo_db)
    p4(demo_db)
    p3.apply(demo_db, CFG, CTX)
    settings = p3.ParitySettings(top_users=3, random_users=2)
    with psycopg.connect(demo_db) as conn:
        seen = {}
        for who in (owner, member):
            with p3.as_app_user(conn, who):
                seen[who] = [
                    conn.execute(f"SELECT count(*) FROM {rel}").fetchone()[0]
                    for rel in ("public.activity_logs", "public.events", "public.activity_logs_compat")
                ]
        report = [
            p3.compare_user(conn, CFG, u, settings, p3.NotYetInEvents(None, backfill_done=True))
            for u in (owner, member)
        ]
    assert (
        seen[owner][0]
        == seen[owner][1]
        == seen[owner][2]
        > seen[member][0]
        == seen[member][1]
        == seen[member][2]
    )
    assert all(r["ok"] for r in report), report


def test_user_groups_add_their_users_to_the_read_parity_sample(demo_db):
    from activity_migration.phases import p3_read_path as p3

    cfg = dataclasses.replace(
        CFG, security=Security(user_groups={"owners": "SELECT id FROM public.users WHERE role = 'owner'"})
    )
    with psycopg.connect(demo_db) as conn:
        owners = {r[0] for r in conn.execute("SELECT id::text FROM public.users WHERE role = 'owner'")}
        users = p3.sample_users(conn, cfg, p3.ParitySettings(top_users=1, random_users=1))
    assert owners & set(users)
