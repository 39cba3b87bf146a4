-- When the answers already recorded for one approval step of one DAG run were given (the
-- approval gate reuses an earlier answer only if it was not acted on yet).
-- Read-only. Idempotent. Placeholder: the phase_ledger table (schema-qualified).
-- Bound parameters, in order: the phase, the approval step and the DAG run id.
SELECT details->>'responded_at' AS at
  FROM {ledger}
 WHERE phase = %s AND step = %s AND dag_run_id = %s
