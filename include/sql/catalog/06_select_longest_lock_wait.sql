-- Load signal: seconds the longest current heavyweight-lock wait has lasted (pg_locks.waitstart),
-- 0 when nobody waits; optionally only the waits of sessions that are not the migration's.
-- Read-only; idempotent. Locks: none (pg_locks, pg_stat_activity).
-- Placeholders: none. Parameters (positional): the others-only flag (boolean), then the
-- LIKE pattern of our application_name.
SELECT coalesce(max(extract(epoch FROM clock_timestamp() - l.waitstart)), 0)
  FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
 WHERE NOT l.granted AND l.waitstart IS NOT NULL AND l.pid <> pg_backend_pid()
   AND (NOT %s OR coalesce(a.application_name, '') NOT LIKE %s)
