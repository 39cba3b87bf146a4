-- Index events.created_at so the nightly incremental check finds new events (orphan check,
-- integrity suite) without scanning the table. Idempotent (IF NOT EXISTS).
-- Lock: CREATE INDEX CONCURRENTLY (SHARE UPDATE EXCLUSIVE: writes continue); run in
-- autocommit under lock_timeout with retries. Placeholders: {index}, {events}.
CREATE INDEX CONCURRENTLY IF NOT EXISTS {index} ON {events} (created_at)
