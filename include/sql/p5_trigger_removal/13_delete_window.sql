-- Close (forget) a run's sensor window of one kind for a tier, before the next one opens.
-- Idempotent. Locks: ROW EXCLUSIVE on perf_samples, row locks on the deleted rows.
-- Placeholder: state, the state schema. Bound (named): tier, kind (the window's metric), run_key.
DELETE FROM {state}.perf_samples
WHERE purpose = 'window' AND tier = %(tier)s AND metric = %(kind)s
  AND details->>'run_key' = %(run_key)s
