-- The status page: the newest recorded validation result, of any suite and environment.
-- Read-only. Idempotent. Placeholder: the validation_results table (schema-qualified).
-- No bound parameters.
SELECT suite, scope, success, statistics, data_docs_path, environment, run_at
  FROM {results}
 ORDER BY run_at DESC, id DESC
 LIMIT 1
