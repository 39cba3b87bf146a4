-- The newest whole-tier measurement of one purpose and metric, optionally of one run only
-- (run_key NULL: of any run). Read only; idempotent. Locks: none beyond ACCESS SHARE.
-- Placeholder: state, the state schema. Bound (named): purpose, tier, metric, run_key.
SELECT *
FROM {state}.perf_samples
WHERE purpose = %(purpose)s AND tier = %(tier)s AND metric = %(metric)s AND table_name IS NULL
  AND (%(run_key)s::text IS NULL OR details->>'run_key' = %(run_key)s::text)
ORDER BY id DESC
LIMIT 1
