-- The newest result per suite, scope and environment, with how many expectations failed.
-- Read-only. Idempotent. Placeholders: the validation_results table (schema-qualified) and
-- an optional filter clause (empty, or a WHERE on the environment). Bound parameter: the
-- environment, only when the filter is given.
SELECT DISTINCT ON (suite, scope, environment)
       id, suite, scope, environment, success, run_at,
       jsonb_array_length(failures) AS failed, data_docs_path, statistics
  FROM {results}
 {filter}
 ORDER BY suite, scope, environment, run_at DESC
