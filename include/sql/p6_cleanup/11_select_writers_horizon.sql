-- The cleanup's horizon: now, or the start of the oldest transaction open in this database
-- when that is earlier (it may still write an event with an older created_at). Events
-- without a legacy id from this moment on were born after cleanup.
-- Read only; idempotent. Locks: none. No placeholders, no bound parameters.
SELECT least(now(), (SELECT min(xact_start)
                     FROM pg_stat_activity
                     WHERE xact_start IS NOT NULL AND datname = current_database()))
