"""A tiny legacy application for phase tests that must not wait for the demo seed.

Supabase-style roles and ``auth.uid()``, ``public.activity_logs`` and three tables whose
trigger functions log in the shapes the rewriter has to handle: a shared-style function with
IF branches per TG_OP, a schema-qualified INSERT with nested parentheses and commas in
strings, and a dollar-quoted literal. ``key_type`` picks uuid or bigint keys.
"""

from __future__ import annotations

import psycopg

ROLES_AND_AUTH = r"""
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN CREATE ROLE anon NOLOGIN; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN CREATE ROLE authenticated NOLOGIN; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN CREATE ROLE service_role NOLOGIN BYPASSRLS; END IF;
END $$;
CREATE SCHEMA IF NOT EXISTS auth;
CREATE OR REPLACE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
  SELECT nullif(coalesce(current_setting('request.jwt.claim.sub', true),
                         current_setting('request.jwt.claims', true)::jsonb ->> 'sub'), '')::uuid
$$;
GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION auth.uid() TO anon, authenticated, service_role;
GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;
"""

APP = r"""
CREATE TABLE public.activity_logs (
    id {key_def},
    user_id uuid, customer_id uuid, action text, entity_type text, entity_id text, description text,
    metadata jsonb, ip_address inet, user_agent text, created_at timestamptz DEFAULT now()
);
CREATE TABLE public.payment_plans (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), owner_id uuid,
    customer_id uuid, amount numeric NOT NULL DEFAULT 0, status text NOT NULL DEFAULT 'draft');
CREATE TABLE public.emails (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), sender_id uuid, subject text);
CREATE TABLE public.notes (id bigserial PRIMARY KEY, author_id uuid, body text);

CREATE FUNCTION public.log_payment_plan_activity() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $f$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata)
    VALUES (NEW.owner_id, NEW.customer_id, 'created', 'payment_plan', NEW.id::text,
            format('Plan %s created (%s, %s)', NEW.id, NEW.status, 'a,b'), jsonb_build_object('amount', NEW.amount, 'status', NEW.status));
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata)
    VALUES (NEW.owner_id, NEW.customer_id, 'updated', 'payment_plan', NEW.id::text,
            'Plan updated; status ' || coalesce(OLD.status, '?') || ' -> ' || NEW.status,
            jsonb_build_object('old', to_jsonb(OLD), 'new', to_jsonb(NEW)));
  ELSE
    INSERT INTO activity_logs (user_id, action, entity_type, entity_id, metadata)
    VALUES (OLD.owner_id, 'deleted', 'payment_plan', OLD.id::text, '{{}}'::jsonb);
    RETURN OLD;
  END IF;
  RETURN NEW;
END
$f$;

CREATE FUNCTION public.log_email_activity() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $f$
DECLARE
  v_note text := $q$it's "quoted"; INSERT INTO activity_logs (x) VALUES (1);$q$;  -- not a statement
BEGIN
  /* a comment mentioning activity_logs, (with, commas) */
  INSERT INTO public.activity_logs (user_id, action, entity_type, entity_id, description, metadata, created_at)
  VALUES (NEW.sender_id, lower(TG_OP), 'email', NEW.id::text, E'Email \'' || coalesce(NEW.subject, '') || E'\' sent',
          jsonb_build_object('note', v_note, 'len', length(coalesce(NEW.subject, ''))), clock_timestamp());
  RETURN NEW;
END
$f$;

CREATE FUNCTION public.log_note_activity() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  INSERT INTO "public"."activity_logs" ("user_id", action, entity_type, entity_id)
  VALUES (coalesce(NEW.author_id, OLD.author_id), CASE TG_OP WHEN 'DELETE' THEN 'removed' ELSE lower(TG_OP) END,
          'document', coalesce(NEW.id, OLD.id)::text);
  RETURN coalesce(NEW, OLD);
END
$f$;

CREATE TRIGGER payment_plans_log AFTER INSERT OR UPDATE OR DELETE ON public.payment_plans
  FOR EACH ROW EXECUTE FUNCTION public.log_payment_plan_activity();
CREATE TRIGGER emails_log AFTER INSERT ON public.emails FOR EACH ROW EXECUTE FUNCTION public.log_email_activity();
CREATE TRIGGER notes_log AFTER INSERT OR UPDATE OR DELETE ON public.notes
  FOR EACH ROW EXECUTE FUNCTION public.log_note_activity();

CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN RETURN NEW; END $f$;
CREATE TRIGGER payment_plans_touch BEFORE UPDATE ON public.payment_plans FOR EACH ROW EXECUTE FUNCTION public.touch();

GRANT SELECT, INSERT, UPDATE, DELETE ON public.payment_plans, public.emails, public.notes TO authenticated, service_role;
GRANT USAGE ON SEQUENCE public.notes_id_seq TO authenticated, service_role;
GRANT SELECT ON public.activity_logs TO authenticated, service_role;
"""


def create_legacy_app(dsn: str, key_type: str = "uuid", history: int = 20) -> None:
    key_def = (
        "uuid PRIMARY KEY DEFAULT gen_random_uuid()"
        if key_type == "uuid"
        else "bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
    )
    with psycopg.connect(dsn, autocommit=True) as conn:
        try:
            conn.execute(ROLES_AND_AUTH)
        except psycopg.errors.UniqueViolation:  # roles are cluster-wide; a parallel create raced us
            conn.execute(ROLES_AND_AUTH)
        conn.execute(APP.format(key_def=key_def))
        for i in range(history):
            conn.execute(
                "INSERT INTO public.payment_plans (owner_id, amount) VALUES (gen_random_uuid(), %s)", (i,)
            )
