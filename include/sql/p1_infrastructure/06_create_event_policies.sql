-- Row-level security on the events table: an authenticated user sees only the events they
-- are the actor of; anon sees nothing; service_role sees and writes everything.
-- Table privileges are set by privileges.py in the same transaction (its one list).
-- Idempotent: every change is conditional on the catalog (no DROP/CREATE churn on re-run).
-- Locks: ENABLE ROW LEVEL SECURITY and CREATE POLICY take ACCESS EXCLUSIVE on {events}
-- (our own table, briefly; run under lock_timeout by the caller). Placeholders: {events}
-- qualified target table; {schema_lit} / {table_lit} its parts as literals.

DO $do$
BEGIN
    IF NOT (SELECT c.relrowsecurity FROM pg_class c WHERE c.oid = format('%I.%I', {schema_lit}, {table_lit})::regclass) THEN
        EXECUTE format('ALTER TABLE %I.%I ENABLE ROW LEVEL SECURITY', {schema_lit}, {table_lit});
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_policies WHERE schemaname = {schema_lit} AND tablename = {table_lit}
                   AND policyname = 'events_select_own') THEN
        EXECUTE format('CREATE POLICY events_select_own ON %I.%I FOR SELECT TO authenticated '
                       'USING (actor_id = (SELECT auth.uid()))', {schema_lit}, {table_lit});
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_policies WHERE schemaname = {schema_lit} AND tablename = {table_lit}
                   AND policyname = 'events_service_role_all') THEN
        EXECUTE format('CREATE POLICY events_service_role_all ON %I.%I FOR ALL TO service_role '
                       'USING (true) WITH CHECK (true)', {schema_lit}, {table_lit});
    END IF;
END
$do$;
