-- Create the Supabase-like base the demo application runs on: the roles anon,
-- authenticated and service_role, schema auth with auth.users and auth.uid()/auth.role(),
-- the schema grants Supabase gives those roles, and Supabase's default privileges: every
-- table, function and sequence created in public from now on (by the demo app, and by the
-- migration running as the same role) is granted ALL to anon, authenticated and service_role,
-- as a real Supabase database does. The migration must revoke what it does not mean to grant.
-- Idempotent: IF NOT EXISTS / CREATE OR REPLACE; roles are cluster-wide (several
-- databases on one server share them), so each CREATE ROLE tolerates an existing role,
-- also one created by a concurrent seed of another database.
-- Locks: none on existing application objects (creates new objects only).

DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['anon', 'authenticated', 'service_role'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN NOINHERIT', r);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;  -- another database's seed created it a moment ago
            END;
        END IF;
    END LOOP;
    -- A non-superuser owner must be able to SET ROLE to these (the workload does).
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        EXECUTE format('GRANT anon, authenticated, service_role TO %I', current_user);
    END IF;
END
$$;

CREATE SCHEMA IF NOT EXISTS auth;

CREATE TABLE IF NOT EXISTS auth.users (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email      text,
    created_at timestamptz DEFAULT now()
);

-- The JWT subject of the current request, as Supabase defines it: PostgREST sets
-- request.jwt.claims per transaction. Missing or empty claims give NULL (a system action).
CREATE OR REPLACE FUNCTION auth.uid()
RETURNS uuid
LANGUAGE sql
STABLE
AS $$
    SELECT nullif(
        coalesce(
            nullif(current_setting('request.jwt.claim.sub', true), ''),
            nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'
        ), '')::uuid
$$;

CREATE OR REPLACE FUNCTION auth.role()
RETURNS text
LANGUAGE sql
STABLE
AS $$
    SELECT nullif(
        coalesce(
            nullif(current_setting('request.jwt.claim.role', true), ''),
            nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role'
        ), '')::text
$$;

GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;
GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION auth.uid(), auth.role() TO anon, authenticated, service_role;
GRANT SELECT, INSERT, UPDATE, DELETE ON auth.users TO service_role;

-- Supabase's initial schema migration does this for the roles that create objects in public.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO anon, authenticated, service_role;
