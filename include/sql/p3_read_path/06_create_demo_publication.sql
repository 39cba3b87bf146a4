-- Demo databases only: create the publication Supabase Realtime streams from,
-- supabase_realtime, when it is absent AND the database is the project's demo (schema auth
-- carries the comment 'activity-migration demo seed'). On Supabase the platform creates it;
-- on any other database this does nothing (we never invent a real-time setup there).
-- Idempotent. Locks: none on application tables (an empty publication).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = 'supabase_realtime')
       AND coalesce(obj_description('auth'::regnamespace, 'pg_namespace'), '') LIKE '%activity-migration demo seed%'
    THEN
        CREATE PUBLICATION supabase_realtime;
    END IF;
END
$$;
