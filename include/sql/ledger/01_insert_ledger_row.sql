-- Append one row to the migration's phase ledger and return its id. finished_at is set
-- (clock_timestamp) when the finished flag is true, else left empty for a started step.
-- Not idempotent: every execution appends a row. Locks: ROW EXCLUSIVE on the ledger table.
-- Placeholder: ledger, the state schema's phase_ledger table.
-- Parameters (named): phase, step, status, environment, mode, project_version, dag_run_id,
-- actor, details (jsonb), finished (boolean).
INSERT INTO {ledger} (phase, step, status, environment, mode, project_version, dag_run_id, actor, details,
                      finished_at)
VALUES (%(phase)s, %(step)s, %(status)s, %(environment)s, %(mode)s, %(project_version)s, %(dag_run_id)s,
        %(actor)s, %(details)s, CASE WHEN %(finished)s THEN clock_timestamp() END)
RETURNING id
