-- The sensor window of one kind a run has open for a tier (its opening snapshot in details).
-- Read only; idempotent. Locks: none beyond ACCESS SHARE. Placeholder: state, the state
-- schema. Bound (named): tier, kind (the window's metric), run_key.
SELECT id, details
FROM {state}.perf_samples
WHERE purpose = 'window' AND tier = %(tier)s AND metric = %(kind)s
  AND details->>'run_key' = %(run_key)s
ORDER BY id DESC
LIMIT 1
