-- Record one suite's result of a validation run (the gates and the status page read it) and
-- return its id.
-- Not idempotent (inserts a row). Lock: RowExclusive on validation_results only.
-- Placeholder: the validation_results table (schema-qualified). Bound parameters, in order:
-- suite, scope, success, statistics (json), failures (json), Data Docs path, environment,
-- project version, DAG run id, and the checked-up-to watermark.
INSERT INTO {results} (suite, scope, success, statistics, failures, data_docs_path, environment,
                       project_version, dag_run_id, checked_upto)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
RETURNING id
