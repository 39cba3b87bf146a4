-- Load signal: sessions (any application) other than this one waiting for a heavyweight
-- lock right now.
-- Read-only; idempotent. Locks: none (pg_stat_activity).
-- Placeholders: none. Parameters: none.
SELECT count(*) FROM pg_stat_activity
 WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()
