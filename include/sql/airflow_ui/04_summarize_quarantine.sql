-- The status page: how many rows are in the quarantine, how many are still open, and how many
-- of the open ones nobody acknowledged yet.
-- Read-only. Idempotent. Placeholder: the quarantine table (schema-qualified).
-- No bound parameters.
SELECT count(*) AS total,
       count(*) FILTER (WHERE resolved_at IS NULL) AS open,
       count(*) FILTER (WHERE resolved_at IS NULL AND acknowledged_at IS NULL) AS unacknowledged
  FROM {quarantine}
