-- Create a realtime schema shaped like Supabase Realtime's (migrations of supabase/realtime:
-- realtime.equality_op, realtime.user_defined_filter, realtime.to_regrole and the table
-- realtime.subscription with subscription_id, entity, filters, claims, the generated
-- claims_role, created_at and action_filter), and a few subscriptions of demo clients on
-- application tables, some with a filter, so the realtime watch reads real figures.
-- Demo databases only (run by the demo seed on a first seed). Idempotent (IF NOT EXISTS,
-- subscriptions inserted once). Locks: none on application tables. No placeholders.
-- Supabase revokes the schema from the API roles; so does this.

CREATE SCHEMA IF NOT EXISTS realtime;
REVOKE ALL ON SCHEMA realtime FROM PUBLIC;

DO $$
BEGIN
    IF to_regtype('realtime.equality_op') IS NULL THEN
        CREATE TYPE realtime.equality_op AS ENUM ('eq', 'neq', 'lt', 'lte', 'gt', 'gte', 'in');
    END IF;
    IF to_regtype('realtime.user_defined_filter') IS NULL THEN
        CREATE TYPE realtime.user_defined_filter AS (column_name text, op realtime.equality_op, value text);
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION realtime.to_regrole(role_name text)
RETURNS regrole LANGUAGE sql IMMUTABLE AS $$ SELECT role_name::regrole $$;

CREATE TABLE IF NOT EXISTS realtime.subscription (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscription_id uuid NOT NULL,
    entity          regclass NOT NULL,
    filters         realtime.user_defined_filter[] NOT NULL DEFAULT '{}',
    claims          jsonb NOT NULL,
    claims_role     regrole NOT NULL GENERATED ALWAYS AS (realtime.to_regrole(claims ->> 'role')) STORED,
    created_at      timestamp NOT NULL DEFAULT timezone('utc', now()),
    action_filter   text DEFAULT '*' CHECK (action_filter IN ('*', 'INSERT', 'UPDATE', 'DELETE'))
);
CREATE UNIQUE INDEX IF NOT EXISTS subscription_subscription_id_entity_filters_action_filter_key
    ON realtime.subscription (subscription_id, entity, filters, action_filter);
CREATE INDEX IF NOT EXISTS ix_realtime_subscription_entity ON realtime.subscription (entity);
REVOKE ALL ON ALL TABLES IN SCHEMA realtime FROM PUBLIC, anon, authenticated, service_role;

-- Five demo clients: three watch their notifications (filtered by recipient), two the projects.
INSERT INTO realtime.subscription (subscription_id, entity, filters, claims)
SELECT gen_random_uuid(), 'public.notifications'::regclass,
       ARRAY[ROW('recipient_id', 'eq', u.id::text)::realtime.user_defined_filter],
       jsonb_build_object('role', 'authenticated', 'sub', u.id)
FROM (SELECT id FROM auth.users ORDER BY id LIMIT 3) u
WHERE NOT EXISTS (SELECT 1 FROM realtime.subscription);
INSERT INTO realtime.subscription (subscription_id, entity, claims)
SELECT gen_random_uuid(), 'public.projects'::regclass, jsonb_build_object('role', 'authenticated', 'sub', u.id)
FROM (SELECT id FROM auth.users ORDER BY id DESC LIMIT 2) u
WHERE (SELECT count(*) FROM realtime.subscription) < 5;
