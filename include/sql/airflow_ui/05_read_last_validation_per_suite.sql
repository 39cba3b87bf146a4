-- The status page: the newest recorded validation result of each suite (any environment).
-- Read-only. Idempotent. Placeholder: results, the validation_results table (schema-qualified).
-- No bound parameters.
SELECT DISTINCT ON (suite) suite, scope, success, statistics, data_docs_path, environment, run_at
  FROM {results}
 ORDER BY suite, run_at DESC, id DESC
