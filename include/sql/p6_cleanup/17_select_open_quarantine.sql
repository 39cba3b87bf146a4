-- Quarantined rows neither resolved nor acknowledged, counted by reason (the cleanup's gate).
-- Read only; idempotent. Locks: none beyond ACCESS SHARE. Placeholder: state, the state
-- schema. No bound parameters.
SELECT reason, count(*) AS n
FROM {state}.quarantine
WHERE resolved_at IS NULL AND acknowledged_at IS NULL
GROUP BY reason
ORDER BY n DESC
