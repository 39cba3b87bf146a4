-- The newest after-drop measurement of a tier that has a comparison with the baseline (the
-- improvement recorded when the tier is verified). Read only; idempotent. Locks: none beyond
-- ACCESS SHARE. Placeholder: state, the state schema. Bound (named): tier.
SELECT details
FROM {state}.perf_samples
WHERE purpose = 'after_drop' AND tier = %(tier)s
  AND details->'comparison'->>'improvement_pct' IS NOT NULL
ORDER BY id DESC
LIMIT 1
