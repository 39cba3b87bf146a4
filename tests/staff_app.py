"""A third legacy application, unlike the demo and ``foreign_app``: a support desk whose log only
staff may read. Each trait is a class of real Supabase applications:

- the log ``public.audit_log`` (not ``activity_logs``) has a ``bigint GENERATED ALWAYS AS
  IDENTITY`` key, entity ids that are text codes (``TCK-1042``) and **no tenant column**;
- it is written by **one generic trigger function** on every table (``TG_TABLE_NAME`` is the
  entity type, ``lower(TG_OP)`` the action) and by **two RPC functions** that insert into it
  directly (``record_login()`` in SQL, ``close_tickets(text[])`` in PL/pgSQL, both SECURITY
  DEFINER, called by signed-in users);
- only **staff** may read it (a policy on the role column of ``public.profiles``); clients see
  nothing of it;
- Supabase's default privileges, set before anything is created;
- the application publishes for a table **only after being told** (``activity_publisher``).

``Load`` plays staff and clients writing tickets, comments and attachments, signing in through
the RPC, and publishing once phase 5 says so.
"""

from __future__ import annotations

import json
import random
import uuid
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb

from app_load import AppLoad, told_to_publish

SCHEMA_SQL = r"""
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN CREATE ROLE anon NOLOGIN; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN CREATE ROLE authenticated NOLOGIN; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
    CREATE ROLE service_role NOLOGIN BYPASSRLS; END IF;
END $$;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO anon, authenticated, service_role;
CREATE SCHEMA auth;
CREATE TABLE auth.users (id uuid PRIMARY KEY, email text);
CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $f$
  SELECT nullif(current_setting('request.jwt.claims', true)::jsonb ->> 'sub', '')::uuid
$f$;
GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION auth.uid() TO anon, authenticated, service_role;
GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;

CREATE TABLE public.profiles (id uuid PRIMARY KEY, role text NOT NULL CHECK (role IN ('staff', 'client')));
ALTER TABLE public.profiles ENABLE ROW LEVEL SECURITY;
CREATE POLICY profiles_self ON public.profiles FOR SELECT TO authenticated USING (id = auth.uid());

CREATE TABLE public.audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor       uuid,
    action      text NOT NULL,
    object_type text NOT NULL,
    object_id   text,
    details     jsonb NOT NULL DEFAULT '{}'::jsonb,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_at_idx ON public.audit_log (at DESC);
ALTER TABLE public.audit_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY staff_reads_all ON public.audit_log FOR SELECT TO authenticated
    USING (EXISTS (SELECT 1 FROM public.profiles p WHERE p.id = auth.uid() AND p.role = 'staff'));
CREATE POLICY service_all ON public.audit_log FOR ALL TO service_role USING (true) WITH CHECK (true);

CREATE TABLE public.tickets (code text PRIMARY KEY, opened_by uuid DEFAULT auth.uid(), subject text,
                             status text NOT NULL DEFAULT 'open');
CREATE TABLE public.ticket_comments (code text PRIMARY KEY, ticket text, author uuid DEFAULT auth.uid(), body text);
CREATE TABLE public.attachments (code text PRIMARY KEY, ticket text, owner uuid DEFAULT auth.uid(), name text);
CREATE SEQUENCE public.codes;

-- one logging function for every table: the table's name is the entity type
CREATE FUNCTION public.log_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $f$
BEGIN
  INSERT INTO public.audit_log (actor, action, object_type, object_id, details)
  VALUES (auth.uid(), lower(TG_OP), TG_TABLE_NAME,
          CASE WHEN TG_OP = 'DELETE' THEN OLD.code ELSE NEW.code END,
          jsonb_build_object('table', TG_TABLE_NAME));
  RETURN NULL;
END
$f$;

-- RPCs the application calls, writing the log themselves
CREATE FUNCTION public.record_login() RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public AS $f$
  INSERT INTO public.audit_log (actor, action, object_type, object_id) VALUES (auth.uid(), 'login', 'session', auth.uid()::text);
$f$;
CREATE FUNCTION public.close_tickets(p_codes text[]) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $f$
DECLARE n integer;
BEGIN
  UPDATE public.tickets SET status = 'closed' WHERE code = ANY(p_codes) AND status <> 'closed';
  GET DIAGNOSTICS n = ROW_COUNT;
  INSERT INTO public.audit_log (actor, action, object_type, object_id, details)
  VALUES (auth.uid(), 'bulk_close', 'ticket_batch', array_to_string(p_codes, ','), jsonb_build_object('closed', n));
  RETURN n;
END
$f$;

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['tickets', 'ticket_comments', 'attachments'] LOOP
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON public.%I FOR EACH ROW '
                   'EXECUTE FUNCTION public.log_change()', t || '_audit', t);
    EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY everyone ON public.%I TO authenticated USING (true) WITH CHECK (true)', t);
  END LOOP;
END $$;
"""

STAFF = [uuid.UUID(int=0x5AFF << 64 | n) for n in range(1, 4)]
CLIENTS = [uuid.UUID(int=0xC1 << 64 | n) for n in range(1, 8)]

# History: tickets, comments and attachments touched over 60 days, sign-ins, a batch close, and
# one row whose entity type the config does not know (the quarantine must take it).
HISTORY_SQL = [
    """
INSERT INTO public.audit_log (actor, action, object_type, object_id, details, at)
SELECT (%(users)s::uuid[])[1 + g %% cardinality(%(users)s::uuid[])],
       (ARRAY['insert', 'update', 'delete', 'login'])[1 + g %% 4],
       CASE WHEN g %% 4 = 3 THEN 'session' ELSE (ARRAY['tickets', 'ticket_comments', 'attachments'])[1 + g %% 3] END,
       CASE WHEN g %% 4 = 3 THEN NULL ELSE 'TCK-' || g END,
       jsonb_build_object('history', g), now() - make_interval(mins => g * 7)
FROM generate_series(1, %(rows)s) g""",
    """
INSERT INTO public.audit_log (actor, action, object_type, object_id, at)
VALUES (%(staff)s, 'bulk_close', 'ticket_batch', 'TCK-1,TCK-2', now() - interval '2 days'),
       (%(staff)s, 'imported', 'legacy_thing', 'L-1', now() - interval '3 days')""",
]
QUARANTINED_HISTORY_ROWS = 1

CONFIG = {
    "state_schema": "activity_migration",
    "source": {
        "schema": "public",
        "table": "audit_log",
        "key": "id",
        "columns": {
            "actor_id": "actor",
            "action": "action",
            "entity_type": "object_type",
            "entity_id": "object_id",
            "metadata": "details",
            "occurred_at": "at",
        },
    },
    "target": {"schema": "public", "table": "events"},
    "categories": {
        "tickets": "support",
        "ticket_comments": "support",
        "attachments": "support",
        "session": "authentication",
        "ticket_batch": "support",
    },
    "tiers": [
        {
            "tier": 1,
            "name": "comments and attachments",
            "tables": ["public.ticket_comments", "public.attachments"],
        },
        {"tier": 2, "name": "tickets", "tables": ["public.tickets"]},
    ],
    "security": {
        "user_groups": {
            "staff": "SELECT id FROM public.profiles WHERE role = 'staff'",
            "clients": "SELECT id FROM public.profiles WHERE role = 'client'",
        }
    },
    "safety": {"lock_timeout_ms": 2000, "ddl_attempts": 10},
}


def create(dsn: str, history_rows: int = 3000) -> None:
    """Build the application in an empty database and write its history."""
    users = [str(u) for u in STAFF + CLIENTS]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(SCHEMA_SQL)
        for u in STAFF + CLIENTS:
            conn.execute("INSERT INTO auth.users (id, email) VALUES (%s, %s)", (u, f"{u}@example.com"))
            conn.execute(
                "INSERT INTO public.profiles (id, role) VALUES (%s, %s)",
                (u, "staff" if u in STAFF else "client"),
            )
        for stmt in HISTORY_SQL:
            conn.execute(stmt, {"users": users, "rows": int(history_rows), "staff": STAFF[0]})
        conn.execute("ANALYZE")


def write_config(directory: Path) -> Path:
    """The migration config for this application (JSON is YAML)."""
    path = directory / "staff-app-migration.yaml"
    path.write_text(json.dumps(CONFIG, indent=2))
    return path


class Load(AppLoad):
    """Staff and clients at work: tickets, comments, attachments, sign-ins through the RPC, the
    occasional batch close; after a write the application asks whether it must publish."""

    application_name = "staff-app-load"

    def user_of(self, i: int) -> uuid.UUID:
        return (STAFF + CLIENTS)[i % (len(STAFF) + len(CLIENTS))]

    def new_state(self, i: int) -> dict[str, list]:
        return {"tickets": [], "ticket_comments": [], "attachments": []}

    def one(
        self, conn: psycopg.Connection, rng: random.Random, i: int, state: dict[str, list]
    ) -> tuple[int, int]:
        roll = rng.random()
        if roll < 0.08:
            conn.execute("SELECT public.record_login()")  # the RPC logs itself, always
            return 0, 1
        if roll < 0.12 and len(state["tickets"]) >= 2:
            codes = [
                r[0]
                for r in conn.execute(
                    "SELECT code FROM public.tickets WHERE code = ANY(%s) AND status <> 'closed'",
                    (rng.sample(state["tickets"], 2),),
                )
            ]
            conn.execute("SELECT public.close_tickets(%s)", (codes,))
            published = 0
            if codes and told_to_publish(conn, "public.tickets"):  # the RPC's updates are writes too
                for code in codes:
                    conn.execute(
                        PUBLISH, ("tickets.update", "tickets", code, Jsonb({"via": "close_tickets"}))
                    )
                published = len(codes)
            return published, 1 + len(codes)  # its batch row, and one per closed ticket
        table = rng.choice(list(state))
        rows = state[table]
        op = (
            "insert"
            if len(rows) < 3
            else rng.choice(["insert", "update", "delete"] if table != "tickets" else ["insert", "update"])
        )
        if op == "insert":
            code = f"{PREFIX[table]}-{conn.execute('SELECT nextval(%s)', ('public.codes',)).fetchone()[0]}"
            column, value = NEW_ROW[table]
            conn.execute(f"INSERT INTO public.{table} (code, {column}) VALUES (%s, %s)", (code, value))
            rows.append(code)
        elif op == "update":
            code = rng.choice(rows)
            column, value = CHANGE[table]
            conn.execute(f"UPDATE public.{table} SET {column} = %s WHERE code = %s", (value, code))
        else:
            code = rows.pop(rng.randrange(len(rows)))
            conn.execute(f"DELETE FROM public.{table} WHERE code = %s", (code,))
        if told_to_publish(conn, f"public.{table}"):
            conn.execute(PUBLISH, (f"{table}.{op}", table, code, Jsonb({"table": table})))
            return 1, 1
        return 0, 1


PUBLISH = (
    "SELECT public.publish_activity(p_event_type => %s, p_entity_type => %s, p_entity_id => %s, "
    "p_payload => %s)"
)

PREFIX = {"tickets": "TCK", "ticket_comments": "CMT", "attachments": "ATT"}
NEW_ROW = {
    "tickets": ("subject", "help"),
    "ticket_comments": ("body", "thanks"),
    "attachments": ("name", "screen.png"),
}
CHANGE = {
    "tickets": ("subject", "help, again"),
    "ticket_comments": ("body", "edited"),
    "attachments": ("name", "v2.png"),
}
