-- The status page's tier plot: per tier, the newest write cost measured with its triggers
-- (purpose 'baseline') and after their drop ('after_drop'), in ms per write, with the method
-- (pg_stat_statements mean or the rolled-back probe's median).
-- Read-only. Idempotent. Placeholder: samples, the perf_samples table (schema-qualified).
-- No bound parameters.
SELECT DISTINCT ON (tier, purpose) tier, purpose, value AS ms, details ->> 'method' AS method
  FROM {samples}
 WHERE metric = 'write_cost' AND purpose IN ('baseline', 'after_drop') AND tier IS NOT NULL
   AND value IS NOT NULL
 ORDER BY tier, purpose, sampled_at DESC, id DESC
