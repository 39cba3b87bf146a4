"""The seeded demo application on a real Postgres: schema, the 64 triggers, RLS, history, re-seeding."""

from __future__ import annotations

import json
import re
import uuid

import psycopg
import pytest

from activity_migration import catalog
from activity_migration.config import load_config
from activity_migration.demo.app import (
    APP_TABLES,
    CONDITIONAL_TRIGGERS,
    EXTRA_HISTORY_ENTITY_TYPES,
    LOGGING_TRIGGER_COUNTS,
    SEED_MARKER,
    STATEMENT_LEVEL_TRIGGERS,
    UPDATED_AT_TABLES,
)
from activity_migration.demo.seed import seed
from activity_migration.errors import MigrationError

CFG = load_config()
HEADERS = {"x-forwarded-for": "203.0.113.9, 10.0.0.1", "user-agent": "pytest-agent/1.0"}


def test_tables_and_entity_types_match_the_config():
    claimed = {name for tier in CFG.tiers for name in tier.table_names}
    assert claimed == {f"public.{t}" for t in APP_TABLES}
    assert set(APP_TABLES.values()) | set(EXTRA_HISTORY_ENTITY_TYPES) <= set(CFG.categories)
    assert len(APP_TABLES) == 18 and sum(LOGGING_TRIGGER_COUNTS.values()) == 64


def test_catalog_finds_exactly_64_logging_triggers_on_the_18_tables(demo_db):
    with psycopg.connect(demo_db) as conn:
        found = catalog.logging_triggers(conn)
        tables = {
            r[0]
            for r in conn.execute(
                "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'"
            )
        }
        updated_at = conn.execute(
            "SELECT c.relname, t.tgname, p.proname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "JOIN pg_proc p ON p.oid = t.tgfoid WHERE NOT t.tgisinternal AND p.proname = 'set_updated_at'"
        ).fetchall()
    assert set(APP_TABLES) | {"activity_logs"} == tables
    assert len(found) == 64
    assert {t.table for t in found} == {f"public.{t}" for t in APP_TABLES}
    per_table: dict[str, int] = {}
    for t in found:
        per_table[t.table_name] = per_table.get(t.table_name, 0) + 1
    assert per_table == LOGGING_TRIGGER_COUNTS
    # The non-logging updated_at triggers exist and are never taken for logging triggers.
    assert sorted(r[0] for r in updated_at) == sorted(UPDATED_AT_TABLES)
    assert not {r[1] for r in updated_at} & {t.trigger_name for t in found}


def test_statement_level_and_conditional_triggers(demo_db):
    with psycopg.connect(demo_db) as conn:
        found = {t.trigger_name: t for t in catalog.logging_triggers(conn)}
    assert {n for n, t in found.items() if not t.row_level} == set(STATEMENT_LEVEL_TRIGGERS)
    for name in STATEMENT_LEVEL_TRIGGERS:
        assert "REFERENCING" in found[name].trigger_def and "FOR EACH STATEMENT" in found[name].trigger_def
    for name in CONDITIONAL_TRIGGERS:
        assert " WHEN " in found[name].trigger_def, name
    # Every function named like the seed (log_payment_plan_activity, log_email_activity, ...).
    functions = {t.function_name for t in found.values()}
    assert {"log_payment_plan_activity", "log_email_activity", "log_user_activity"} <= functions
    assert all(re.fullmatch(r"log_[a-z_]+_activity", f) for f in functions)


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside parentheses and string literals."""
    parts, depth, quoted, current = [], 0, False, []
    for ch in text:
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        if ch == "," and depth == 0 and not quoted:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    parts.append("".join(current).strip())
    return parts


def test_logging_functions_write_only_in_the_form_phase_2_rewrites(demo_db):
    form = re.compile(r"INSERT INTO public\.activity_logs \(([a-z_, ]+)\)\s+VALUES \((.*?)\);", re.S)
    with psycopg.connect(demo_db) as conn:
        oids = catalog.logging_function_oids(conn, CFG)
        rows = conn.execute(
            "SELECT proname, prosrc, prosecdef, proconfig FROM pg_proc WHERE oid = ANY(%s)", (list(oids),)
        ).fetchall()
    assert len(rows) == 19
    for name, src, secdef, config in rows:
        assert secdef and "search_path=public" in (config or []), name
        statements = form.findall(src)
        assert statements and len(statements) == len(re.findall(r"activity_logs", src)), name
        for columns, values in statements:
            cols = [c.strip() for c in columns.split(",")]
            assert len(cols) == len(_split_top_level(values)), (name, cols)
            assert {"user_id", "customer_id", "action", "entity_type", "entity_id", "metadata"} <= set(
                cols
            ), name


# --- every single-row statement logs exactly once --------------------------------------------------------

STATUS_CHANGE = {  # table -> (new status, expected action)
    "bulk_operations": ("running", "status_changed"),
    "emails": ("bounced", "status_changed"),
    "documents": ("signed", "status_changed"),
    "investments": ("funded", "status_changed"),
    "payment_plans": ("active", "status_changed"),
    "payments": ("succeeded", "status_changed"),
    "subscriptions": ("signed", "status_changed"),
    "distributions": ("paid", "status_changed"),
    "tokens": ("deployed", "status_changed"),
    "users": ("active", "status_changed"),
    "projects": ("active", "status_changed"),
    "kyc_verifications": ("approved", "status_changed"),
    "allocations": ("confirmed", "updated"),  # no conditional trigger: a plain update
}


class App:
    """Statements as the application runs them: role authenticated, JWT claims, request headers.

    Each ``run`` is one transaction (the connection must be in autocommit mode, so SET LOCAL
    ends with it).
    """

    def __init__(self, conn: psycopg.Connection, actor: uuid.UUID, customer: uuid.UUID) -> None:
        self.conn, self.actor, self.customer = conn, actor, customer

    def run(self, statement: str, params: tuple = ()) -> list[tuple]:
        with self.conn.transaction():
            self.conn.execute("SET LOCAL ROLE authenticated")
            self.conn.execute(
                "SELECT set_config('request.jwt.claims', %s, true), set_config('request.headers', %s, true)",
                (json.dumps({"sub": str(self.actor), "role": "authenticated"}), json.dumps(HEADERS)),
            )
            cur = self.conn.execute(statement, params)
            return cur.fetchall() if cur.description else []


def _log_rows(conn: psycopg.Connection, entity_id: str) -> list[tuple]:
    return conn.execute(
        "SELECT action, entity_type, user_id, customer_id, host(ip_address), user_agent, "
        "jsonb_typeof(metadata), description FROM public.activity_logs WHERE entity_id = %s "
        "ORDER BY created_at",
        (entity_id,),
    ).fetchall()


def test_every_single_row_insert_update_delete_writes_exactly_one_log_row(demo_db):
    with psycopg.connect(demo_db, autocommit=True) as conn:
        actor, customer = conn.execute(
            "SELECT user_id, customer_id FROM public.users WHERE id = user_id LIMIT 1"
        ).fetchone()
        app = App(conn, actor, customer)
        for table, entity_type in APP_TABLES.items():
            ((new_id,),) = app.run(
                f"INSERT INTO public.{table} (customer_id, user_id) VALUES (%s, %s) RETURNING id",
                (customer, actor),
            )
            expected = ["created"]
            steps = [
                (
                    f"UPDATE public.{table} SET created_at = created_at - interval '1 second' WHERE id = %s",
                    "updated",
                )
            ]
            if table in STATUS_CHANGE:
                steps.append((f"UPDATE public.{table} SET status = status WHERE id = %s", "updated"))
                new_status, action = STATUS_CHANGE[table]
                steps.append((f"UPDATE public.{table} SET status = '{new_status}' WHERE id = %s", action))
            if table == "emails":
                steps.append(
                    ("UPDATE public.emails SET status = 'sent', sent_at = now() WHERE id = %s", "sent")
                )
            if table == "users":
                steps.append(("UPDATE public.users SET role = 'admin' WHERE id = %s", "role_changed"))
                steps.append(
                    (
                        "UPDATE public.users SET role = 'viewer', status = 'suspended' WHERE id = %s",
                        "status_changed",
                    )
                )
            if table == "notifications":
                steps.append(("UPDATE public.notifications SET read_at = now() WHERE id = %s", "read"))
                steps.append(("UPDATE public.notifications SET title = 'again' WHERE id = %s", "updated"))
            steps.append((f"DELETE FROM public.{table} WHERE id = %s", "deleted"))
            for statement, action in steps:
                app.run(statement, (new_id,))
                expected.append(action)
            rows = _log_rows(conn, str(new_id))
            assert [r[0] for r in rows] == expected, table
            for action, etype, user_id, customer_id, ip, agent, mtype, description in rows:
                assert (etype, user_id, customer_id) == (entity_type, actor, customer), (table, action)
                assert (ip, agent, mtype) == ("203.0.113.9", "pytest-agent/1.0", "object"), (table, action)
                assert description, (table, action)


def test_bulk_operations_log_once_per_statement(demo_db):
    with psycopg.connect(demo_db, autocommit=True) as conn:
        actor, customer = conn.execute(
            "SELECT user_id, customer_id FROM public.users WHERE id = user_id LIMIT 1"
        ).fetchone()
        app = App(conn, actor, customer)
        before = conn.execute("SELECT count(*) FROM public.activity_logs").fetchone()[0]
        ids = [
            r[0]
            for r in app.run(
                "INSERT INTO public.bulk_operations (customer_id, user_id, operation) "
                "SELECT %s, %s, 'import_investors' FROM generate_series(1, 3) RETURNING id",
                (customer, actor),
            )
        ]
        app.run("DELETE FROM public.bulk_operations WHERE false")  # touches no row: logs nothing
        app.run("DELETE FROM public.bulk_operations WHERE id = ANY(%s)", (ids,))
        rows = conn.execute(
            "SELECT action, entity_id, metadata FROM public.activity_logs ORDER BY created_at DESC LIMIT 2"
        ).fetchall()
        after = conn.execute("SELECT count(*) FROM public.activity_logs").fetchone()[0]
    assert after - before == 2
    assert {r[0] for r in rows} == {"created", "deleted"}
    for _, entity_id, metadata in rows:
        assert entity_id is None and metadata["row_count"] == 3 and metadata["statement_level"] is True


def test_rls_authenticated_sees_only_its_own_activity(demo_db):
    stranger = uuid.uuid4()
    with psycopg.connect(demo_db, autocommit=True) as conn:
        actor, customer, own = conn.execute(
            "SELECT user_id, max(customer_id::text)::uuid, count(*) FROM public.activity_logs "
            "WHERE user_id IS NOT NULL GROUP BY user_id ORDER BY count(*) DESC LIMIT 1"
        ).fetchone()
        assert own > 0
        assert App(conn, actor, customer).run(
            "SELECT count(*), count(*) FILTER (WHERE user_id <> %s) FROM public.activity_logs", (actor,)
        ) == [(own, 0)]
        app = App(conn, stranger, customer)
        assert app.run("SELECT count(*) FROM public.activity_logs") == [(0,)]
        app.run(
            "INSERT INTO public.notifications (customer_id, user_id, title) VALUES (%s, %s, 'hi')",
            (customer, stranger),
        )
        assert app.run("SELECT count(*), min(user_id::text) FROM public.activity_logs") == [
            (1, str(stranger))
        ]
        # Writing the log directly is not the application's right.
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app.run("INSERT INTO public.activity_logs (action) VALUES ('forged')")
        # And another user's application rows are invisible and untouchable.
        assert app.run("UPDATE public.projects SET name = 'x' RETURNING id") == []


# --- the history --------------------------------------------------------------------------------------------


def test_history_maps_cleanly_and_holds_the_odd_rows(demo_db):
    with psycopg.connect(demo_db) as conn:
        bad = conn.execute(
            """
            SELECT count(*) FROM public.activity_logs
            WHERE action IS NULL OR entity_type IS NULL OR created_at IS NULL
               OR action !~ '^[a-z][a-z0-9_]*$' OR entity_type <> ALL(%s)
               OR jsonb_typeof(metadata) IS DISTINCT FROM 'object'
               OR created_at < '2000-01-01' OR created_at > now()
               OR octet_length(metadata::text) >= 1048576""",
            (list(CFG.categories),),
        ).fetchone()[0]
        stats = conn.execute("""
            SELECT count(*) FILTER (WHERE user_id IS NULL),
                   count(*) FILTER (WHERE metadata = '{}'::jsonb),
                   count(*) FILTER (WHERE octet_length(metadata::text) > 90000),
                   max(octet_length(metadata::text)),
                   count(*) FILTER (WHERE description ~ '[\U0001f300-\U0001faff]'),
                   count(*) FILTER (WHERE description ~ '[\u0590-\u06ff]'),
                   count(*) FILTER (WHERE description ~ '[\u0300-\u036f]'),
                   count(*) FILTER (WHERE metadata ? '🔑 key'),
                   extract(day FROM max(created_at) - min(created_at)),
                   count(DISTINCT entity_type),
                   count(*) FILTER (WHERE ip_address IS NOT NULL)
            FROM public.activity_logs""").fetchone()
        unknown_actors = conn.execute(
            "SELECT count(*) FROM public.activity_logs a WHERE user_id IS NOT NULL "
            "AND NOT EXISTS (SELECT 1 FROM auth.users u WHERE u.id = a.user_id)"
        ).fetchone()[0]
    assert bad == 0
    null_actor, empty, large, largest, emoji, rtl, combining, unicode_keys, span_days, types, with_ip = stats
    assert null_actor > 0 and empty > 0
    assert large == 5 and largest < 1048576
    assert emoji > 0 and rtl > 0 and combining > 0 and unicode_keys > 0
    assert span_days > 600
    assert types == 19  # the 18 tables' entity types and 'auth' sign-ins
    assert with_ip > 0
    assert unknown_actors == 0


# --- key types, re-seeding, refusing --------------------------------------------------------------------


def test_bigint_key_type(fresh_db):
    result = seed(fresh_db, rows=400, key_type="bigint", app_rows=20)
    assert result["key_type"] == "bigint" and result["rows"] == 400
    with psycopg.connect(fresh_db) as conn:
        kind, identity = conn.execute(
            "SELECT format_type(atttypid, atttypmod), attidentity FROM pg_attribute "
            "WHERE attrelid = 'public.activity_logs'::regclass AND attname = 'id'"
        ).fetchone()
        pk = conn.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'public.activity_logs'::regclass AND contype = 'p'"
        ).fetchone()
        triggers = catalog.logging_triggers(conn)
        conn.execute("INSERT INTO public.templates (customer_id) VALUES (NULL)")
        last = conn.execute(
            "SELECT id, entity_type FROM public.activity_logs ORDER BY id DESC LIMIT 1"
        ).fetchone()
        total = conn.execute("SELECT count(*) FROM public.activity_logs").fetchone()[0]
    assert (kind, identity) == ("bigint", "d")
    assert pk == ("PRIMARY KEY (id)",)
    assert len(triggers) == 64
    assert last[1] == "template" and last[0] == total


def test_reseeding_a_seeded_database_adds_history(fresh_db):
    first = seed(fresh_db, rows=300, app_rows=20)
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        # a later phase changed the schema: a re-seed must leave it alone
        conn.execute(
            "CREATE OR REPLACE FUNCTION public.log_wallet_activity() RETURNS trigger LANGUAGE plpgsql "
            "SECURITY DEFINER SET search_path = public AS $$ BEGIN "
            "INSERT INTO public.activity_logs (action, entity_type) VALUES ('changed', 'wallet'); "
            "RETURN NULL; END $$"
        )
    lines: list[str] = []
    second = seed(fresh_db, rows=700, key_type="bigint", progress=lines.append)
    with psycopg.connect(fresh_db) as conn:
        marker = conn.execute("SELECT obj_description('auth'::regnamespace, 'pg_namespace')").fetchone()[0]
        src = conn.execute("SELECT prosrc FROM pg_proc WHERE proname = 'log_wallet_activity'").fetchone()[0]
        users = conn.execute("SELECT count(*) FROM public.users").fetchone()[0]
    assert not first["reseeded"] and second["reseeded"]
    assert second["key_type"] == "uuid" and any("ignored" in line for line in lines)
    assert second["activity_logs_rows"] == first["activity_logs_rows"] + 700
    assert marker == SEED_MARKER
    assert "'changed'" in src and users == 20


@pytest.mark.parametrize(
    "foreign",
    [
        "CREATE TABLE public.customers_of_someone_else (id int)",
        "CREATE SCHEMA billing",
        "CREATE SCHEMA auth",
    ],
)
def test_refuses_a_non_empty_database_it_did_not_seed(fresh_db, foreign):
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute(foreign)
    with pytest.raises(MigrationError, match="refusing to seed a non-empty database"):
        seed(fresh_db, rows=10)
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute("SELECT to_regclass('public.activity_logs')").fetchone()[0] is None


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"rows": -1}, "rows must be a non-negative integer"),
        ({"rows": 10, "key_type": "int"}, "key_type must be one of"),
        ({"rows": 10, "app_rows": {"planets": 3}}, "unknown tables"),
    ],
)
def test_rejects_bad_arguments(fresh_db, kwargs, message):
    with pytest.raises(MigrationError, match=message):
        seed(fresh_db, **kwargs)


def test_unreachable_database_is_a_clear_error():
    with pytest.raises(MigrationError, match="cannot connect"):
        seed("postgresql://x@127.0.0.1:1/db", rows=10)
