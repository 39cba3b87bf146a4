-- The newest result of the 'parity' validation suite (for a tier's approval evidence).
-- Read only; idempotent. Locks: none beyond ACCESS SHARE. Placeholder: state, the state
-- schema. No bound parameters.
SELECT suite, success, statistics, run_at, environment
FROM {state}.validation_results
WHERE suite = 'parity'
ORDER BY run_at DESC
LIMIT 1
