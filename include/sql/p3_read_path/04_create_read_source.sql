-- Create public.activity_read_source(): which store the app's activity UI reads,
-- 'activity_logs' (old table, ActivityLogsTable) or 'events' (EventFeed), from the
-- migration's settings (key read_source). Missing setting = 'activity_logs'.
-- SECURITY DEFINER so authenticated callers need no access to the state schema; a fixed
-- search_path so a caller cannot redirect it. Idempotent (CREATE OR REPLACE). Locks: none.
-- Placeholders: {state} state schema.
CREATE OR REPLACE FUNCTION public.activity_read_source() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT coalesce((SELECT s.value #>> '{}' FROM {state}.settings s WHERE s.key = 'read_source'), 'activity_logs')
$fn$;

COMMENT ON FUNCTION public.activity_read_source() IS
    'activity-migration p3_read_path: the store the activity UI reads (activity_logs | events); flipped by phase 3 and its rollback';
