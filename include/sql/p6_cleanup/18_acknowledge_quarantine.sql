-- Acknowledge the open quarantine rows (neither resolved nor acknowledged yet): all of them,
-- or those of one reason. Idempotent (acknowledged rows are not picked again). Locks: ROW
-- EXCLUSIVE on quarantine, row locks on the updated rows. Placeholder: state, the state
-- schema. Bound (named): by (who acknowledges), reason (NULL: every reason).
UPDATE {state}.quarantine
SET acknowledged_by = %(by)s, acknowledged_at = clock_timestamp()
WHERE resolved_at IS NULL AND acknowledged_at IS NULL
  AND (%(reason)s::text IS NULL OR reason = %(reason)s::text)
