-- The watermark of the newest successful check of one suite in one environment: the
-- incremental scope checks the rows created since then (minus an overlap).
-- Read-only. Idempotent. Placeholder: the validation_results table (schema-qualified).
-- Bound parameters, in order: the suite name and the environment.
SELECT checked_upto
  FROM {results}
 WHERE suite = %s AND environment = %s AND success AND checked_upto IS NOT NULL
 ORDER BY run_at DESC
 LIMIT 1
