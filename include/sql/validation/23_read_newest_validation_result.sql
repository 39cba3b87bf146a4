-- The newest recorded result of a suite (a validation gate opens only on a recent pass), with
-- its age by the clock, not by the transaction start.
-- Read-only. Idempotent. Placeholders: the validation_results table (schema-qualified) and
-- the conditions joined with AND (suite, environment, and the scope when one is required).
-- Bound parameters, in order: the values those conditions compare with.
SELECT id, suite, scope, success, run_at, data_docs_path, failures, project_version,
       clock_timestamp() - run_at AS age
  FROM {results}
 WHERE {conditions}
 ORDER BY run_at DESC, id DESC
 LIMIT 1
