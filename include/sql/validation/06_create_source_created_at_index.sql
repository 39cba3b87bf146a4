-- Index the source's created_at column so the nightly incremental check reads only new
-- rows (its cost grows with new rows, not with table size). Idempotent (IF NOT EXISTS).
-- Lock: CREATE INDEX CONCURRENTLY (SHARE UPDATE EXCLUSIVE: writes continue); run in
-- autocommit under lock_timeout with retries. Placeholders: {index}, {src}, {column}.
CREATE INDEX CONCURRENTLY IF NOT EXISTS {index} ON {src} ({column})
