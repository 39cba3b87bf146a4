-- The newest validation result of every suite run since the window's start at one project
-- version (or recording no version): the results that speak for a rehearsal.
-- Read-only, idempotent. Locks: ACCESS SHARE on the validation results table.
-- Placeholder: validations, the state schema's validation_results table.
-- Parameters (named): since (the window's start), project_version.
SELECT DISTINCT ON (suite) id, suite, scope, success, environment, project_version, dag_run_id, run_at, failures
FROM {validations}
WHERE run_at >= %(since)s AND (project_version = %(project_version)s OR project_version IS NULL)
ORDER BY suite, run_at DESC, id DESC
