"""What a user of the application's API can try against a migrated Supabase database.

The demo database carries Supabase's default privileges (ALL on every new table, function and
sequence in public for anon, authenticated and service_role), so every object the migration
creates starts out granted to them unless the migration revokes it. Two stages are attacked:
dual write (phases 1-4: the write path writes both systems) and after cleanup (phases 5-6:
the legacy table archived). Every attempt must be refused; the suite prints how many it made.
"""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg import sql

from _forward import CFG, CTX, p1, p2, p4, p5_all
from activity_migration.phases import p3_read_path as p3
from activity_migration.phases import p6_cleanup as p6
from activity_migration.phases._common import PUBLISH_ARGS
from security.attacks import Attempt, call, run, run_all
from testdb import create_database, drop_database

STATE = CFG.state_schema
API = ("anon", "authenticated", "service_role")
PUBLISH = "public.publish_activity"


def _users(dsn: str) -> dict[str, str]:
    """Two signed-in users of different customers, with a customer each and activity to read."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("""
            SELECT u.id::text, u.customer_id::text FROM public.users u
            WHERE u.id = u.user_id AND EXISTS (SELECT 1 FROM public.events e WHERE e.actor_id = u.id)
            ORDER BY u.id""").fetchall()
    a = rows[0]
    b = next(r for r in rows if r[1] != a[1])
    return {"a": a[0], "a_customer": a[1], "b": b[0], "b_customer": b[1]}


@pytest.fixture(scope="module")
def dual_write_db(pg_admin_dsn, demo_template):
    name, dsn = create_database(pg_admin_dsn, prefix="amt_sec_dw", template=demo_template)
    p1(dsn)
    p2(dsn)
    p3.apply(dsn, CFG, CTX)
    p4(dsn)
    yield dsn
    drop_database(pg_admin_dsn, name)


@pytest.fixture(scope="module")
def cleaned_db(pg_admin_dsn, demo_template):
    name, dsn = create_database(pg_admin_dsn, prefix="amt_sec_p6", template=demo_template)
    p1(dsn)
    p2(dsn)
    p3.apply(dsn, CFG, CTX)
    p4(dsn)
    p5_all(dsn)
    p6.backup(dsn, CFG, CTX)
    p6.archive(dsn, CFG, CTX)
    p6.checksum(dsn, CFG, CTX)
    yield dsn
    drop_database(pg_admin_dsn, name)


def _publish_attempts(u: dict[str, str]) -> list[Attempt]:
    """User A trying to write what is not A's to write, and anon trying to write at all."""
    a, b = u["a"], u["b"]
    base = {"p_event_type": "project.updated", "p_entity_type": "project", "p_entity_id": "sec-probe"}
    out = []
    for name, extra in [
        ("actor spoofing: publish as another user", {"p_actor_id": b}),
        ("actor spoofing: publish as nobody (NULL actor)", {"p_actor_id": None}),
        ("source spoofing: source trigger", {"p_source": "trigger"}),
        ("source spoofing: source backfill", {"p_source": "backfill"}),
        ("backdating: occurred_at in 2021", {"p_occurred_at": "2021-03-01T00:00:00Z"}),
        ("future dating: occurred_at tomorrow", {"p_occurred_at": "2099-01-01T00:00:00Z"}),
        ("customer spoofing: another customer", {"p_customer_id": u["b_customer"]}),
        ("customer spoofing: a customer that does not exist", {"p_customer_id": str(uuid.uuid4())}),
        ("legacy action injection", {"p_legacy_action": "created"}),
        (
            "quarantine flooding: trigger source with an unknown entity type",
            {"p_source": "trigger", "p_entity_type": "no_such_entity", "p_event_type": "no_such_entity.x"},
        ),
        (
            "quarantine flooding: trigger source with a broken event type",
            {"p_source": "trigger", "p_event_type": "Bad Type"},
        ),
    ]:
        stmt, params = call(PUBLISH, **{**base, **extra})
        out.append(Attempt(name, "authenticated", stmt, params, as_user=a, write=True))
    helpers = [
        (
            "publish_auth_event for another user",
            *call("public.publish_auth_event", p_action="login", p_user_id=b),
        ),
        (
            "publish_batch_operation as another user",
            *call("public.publish_batch_operation", p_operation="import", p_item_count=3, p_actor_id=b),
        ),
        (
            "publish_batch_operation for another customer",
            *call(
                "public.publish_batch_operation",
                p_operation="import",
                p_item_count=3,
                p_customer_id=u["b_customer"],
            ),
        ),
        (
            "publish_entity_change as another user",
            *call(
                "public.publish_entity_change",
                p_entity_type="project",
                p_entity_id="x",
                p_action="updated",
                p_actor_id=b,
            ),
        ),
    ]
    out += [Attempt(n, "authenticated", s, p, as_user=a, write=True) for n, s, p in helpers]
    for fn, kwargs in [
        (PUBLISH, base),
        ("public.publish_auth_event", {"p_action": "login", "p_user_id": a}),
        ("public.publish_batch_operation", {"p_operation": "import", "p_item_count": 1}),
        (
            "public.publish_entity_change",
            {"p_entity_type": "project", "p_entity_id": "x", "p_action": "updated"},
        ),
    ]:
        stmt, params = call(fn, **kwargs)
        out.append(Attempt(f"anon calls {fn}", "anon", stmt, params, write=True))
    internal = sql.SQL(
        "SELECT {}.publish_activity_internal(p_event_type => 'project.updated', "
        "p_entity_type => 'project', p_actor_id => %s, p_source => 'trigger')"
    ).format(sql.Identifier(STATE))
    for role in ("anon", "authenticated", "service_role"):
        out.append(Attempt(f"{role} calls the internal writer", role, internal, (b,), as_user=a, write=True))
    for role in ("anon", "authenticated"):
        out.append(
            Attempt(
                "insert into events directly",
                role,
                "INSERT INTO public.events (event_type, category, entity_type, source, occurred_at, "
                "actor_id) VALUES ('project.updated', 'project_management', 'project', 'trigger', now(), %s)",
                (b,),
                as_user=a,
                write=True,
            )
        )
        out.append(
            Attempt(
                "update another user's events",
                role,
                "UPDATE public.events SET description = 'owned' WHERE actor_id = %s RETURNING id",
                (b,),
                as_user=a,
                leaked=lambda rows: bool(rows),
            )
        )
        out.append(
            Attempt(
                "delete events",
                role,
                "DELETE FROM public.events WHERE actor_id = %s RETURNING id",
                (b,),
                as_user=a,
                leaked=lambda rows: bool(rows),
            )
        )
        out.append(Attempt("truncate events", role, "TRUNCATE public.events", as_user=a, write=True))
        out.append(
            Attempt(
                "refresh the analytics (a denial-of-service lever)",
                role,
                "SELECT public.refresh_event_analytics()",
                as_user=a,
                write=True,
            )
        )
    return out


def _read_attempts(u: dict[str, str], *, legacy: bool) -> list[Attempt]:
    a, b = u["a"], u["b"]
    out = [
        Attempt(
            "read another user's events",
            "authenticated",
            "SELECT id FROM public.events WHERE actor_id = %s",
            (b,),
            as_user=a,
        ),
        Attempt("read events signed out", "anon", "SELECT id FROM public.events LIMIT 1"),
        Attempt(
            "read another user's events through the feed",
            "authenticated",
            "SELECT id FROM public.event_feed(p_page_size => 200) WHERE actor_id IS DISTINCT FROM %s",
            (a,),
            as_user=a,
        ),
        Attempt(
            "read another customer's events through the feed",
            "authenticated",
            "SELECT id FROM public.event_feed(p_page_size => 200, p_customer_id => %s)",
            (u["b_customer"],),
            as_user=a,
        ),
        Attempt("read the feed signed out", "anon", "SELECT id FROM public.event_feed() LIMIT 1"),
        Attempt(
            "read another user's rows through the compatibility view",
            "authenticated",
            "SELECT * FROM public.activity_logs_compat WHERE user_id = %s",
            (b,),
            as_user=a,
        ),
        Attempt(
            "read the compatibility view signed out",
            "anon",
            "SELECT * FROM public.activity_logs_compat LIMIT 1",
        ),
        Attempt("read the read source signed out", "anon", "SELECT public.activity_read_source()"),
    ]
    for view in ("event_daily_counts", "event_actor_activity"):
        for role in ("anon", "authenticated"):
            out.append(
                Attempt(
                    f"read the analytics view {view}",
                    role,
                    sql.SQL("SELECT * FROM {} LIMIT 1").format(sql.Identifier("public", view)),
                    as_user=a,
                )
            )
    if legacy:
        out.append(
            Attempt(
                "read another user's legacy rows",
                "authenticated",
                "SELECT id FROM public.activity_logs WHERE user_id = %s",
                (b,),
                as_user=a,
            )
        )
    else:
        out.append(
            Attempt(
                "read another user's rows through the view under the legacy name",
                "authenticated",
                "SELECT * FROM public.activity_logs WHERE user_id = %s",
                (b,),
                as_user=a,
            )
        )
    return out


def _state_attempts(conn: psycopg.Connection, u: dict[str, str]) -> list[Attempt]:
    """Every relation and every function of the state schema, as each API role."""
    rels = [
        r[0]
        for r in conn.execute(
            "SELECT format('%%I.%%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = "
            "c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'v', 'm', 'S', 'p') ORDER BY 1",
            (STATE,),
        ).fetchall()
    ]
    funcs = conn.execute(
        "SELECT format('%%I.%%I', n.nspname, p.proname), "
        "       array(SELECT format_type(t, NULL) FROM unnest(p.proargtypes) t) "
        "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = %s ORDER BY 1",
        (STATE,),
    ).fetchall()
    out = []
    for role in API:
        for rel in rels:
            out.append(
                Attempt(
                    f"read {rel}",
                    role,
                    sql.SQL("SELECT * FROM {} LIMIT 1").format(sql.SQL(rel)),
                    as_user=u["a"],
                )
            )
        for fn, types in funcs:
            args = sql.SQL(", ").join(sql.SQL("NULL::{}").format(sql.SQL(t)) for t in types)
            out.append(
                Attempt(
                    f"execute {fn}({', '.join(types)})",
                    role,
                    sql.SQL("SELECT {}({})").format(sql.SQL(fn), args),
                    as_user=u["a"],
                    write=True,
                )
            )
    return out


def _quarantine_rows(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            sql.SQL("SELECT count(*) FROM {}.quarantine").format(sql.Identifier(STATE))
        ).fetchone()[0]


def test_during_dual_write_every_attempt_is_refused(dual_write_db, capsys):
    u = _users(dual_write_db)
    quarantined = _quarantine_rows(dual_write_db)
    with psycopg.connect(dual_write_db, autocommit=True) as conn:
        attempts = _publish_attempts(u) + _read_attempts(u, legacy=True) + _state_attempts(conn, u)
        outcomes, report = run_all(conn, attempts)
    with capsys.disabled():
        print("\n" + report)
    assert len(outcomes) >= 30
    assert [o for o in outcomes if not o.refused] == []
    assert _quarantine_rows(dual_write_db) == quarantined, "a refused call must never write the quarantine"


def test_after_cleanup_every_attempt_is_refused(cleaned_db, capsys):
    u = _users(cleaned_db)
    with psycopg.connect(cleaned_db, autocommit=True) as conn:
        archive = conn.execute(
            sql.SQL("SELECT name FROM {}.archives WHERE deleted_at IS NULL").format(sql.Identifier(STATE))
        ).fetchone()[0]
        attempts = _publish_attempts(u) + _read_attempts(u, legacy=False) + _state_attempts(conn, u)
        assert any(archive in a.name for a in attempts), "the archive must be among the attacked relations"
        outcomes, report = run_all(conn, attempts)
    with capsys.disabled():
        print("\n" + report)
    assert len(outcomes) >= 30
    assert [o for o in outcomes if not o.refused] == []


def test_a_user_may_still_publish_as_themselves_and_read_their_own(dual_write_db):
    """The rules refuse impersonation, not use: the same user, within the rules, succeeds."""
    u = _users(dual_write_db)
    with psycopg.connect(dual_write_db, autocommit=True) as conn:
        own = Attempt(
            "publish as oneself",
            "authenticated",
            *call(
                PUBLISH,
                p_event_type="project.updated",
                p_entity_type="project",
                p_entity_id="own",
                p_actor_id=u["a"],
                p_customer_id=u["a_customer"],
            ),
            as_user=u["a"],
            write=True,
        )
        assert not run(conn, own).refused
        mine = Attempt(
            "read own events",
            "authenticated",
            "SELECT id FROM public.events WHERE actor_id = %s",
            (u["a"],),
            as_user=u["a"],
        )
        assert not run(conn, mine).refused, "the user's own events are visible to them"
        service = Attempt(
            "the service publishes for a user, dated",
            "service_role",
            *call(
                PUBLISH,
                p_event_type="project.updated",
                p_entity_type="project",
                p_actor_id=u["b"],
                p_occurred_at="2024-01-01T00:00:00Z",
            ),
            write=True,
        )
        assert not run(conn, service).refused, "service_role keeps the full signature"


def test_refused_calls_name_the_rule(dual_write_db):
    u = _users(dual_write_db)
    with psycopg.connect(dual_write_db, autocommit=True) as conn:
        with conn.transaction(force_rollback=True):
            conn.execute("SET LOCAL ROLE authenticated")
            conn.execute("SELECT set_config('request.jwt.claims', %s, true)", (f'{{"sub": "{u["a"]}"}}',))
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="actor_not_caller"):
                conn.execute(
                    *call(PUBLISH, p_event_type="project.updated", p_entity_type="project", p_actor_id=u["b"])
                )
        with conn.transaction(force_rollback=True):
            conn.execute("SET LOCAL ROLE authenticated")
            conn.execute("SELECT set_config('request.jwt.claims', %s, true)", (f'{{"sub": "{u["a"]}"}}',))
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="occurred_at_not_now"):
                conn.execute(
                    *call(
                        PUBLISH,
                        p_event_type="project.updated",
                        p_entity_type="project",
                        p_occurred_at="2021-01-01T00:00:00Z",
                    )
                )
        # a forged call wrote no legacy row either (dual write would have written one)
        n = conn.execute(
            "SELECT count(*) FROM public.activity_logs WHERE entity_id = 'sec-probe'"
        ).fetchone()[0]
        assert n == 0
    assert PUBLISH_ARGS.count(",") == 11
