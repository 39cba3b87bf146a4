-- Load signal: client backends running a statement right now, other than this session and
-- the migration's own sessions (application_name matching the given LIKE pattern).
-- Read-only; idempotent. Locks: none (pg_stat_activity).
-- Placeholders: none. Parameters (positional): the LIKE pattern of our application_name.
SELECT count(*) FROM pg_stat_activity
 WHERE backend_type = 'client backend' AND state = 'active'
   AND pid <> pg_backend_pid()
   AND coalesce(application_name, '') NOT LIKE %s
