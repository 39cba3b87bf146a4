-- Add this run's production clamps of the Params to the newest ledger row of one phase step
-- of one DAG run (details.param_clamps), and return that row's id (no row: nothing returned).
-- Idempotent (the same clamps merged again change nothing). Lock: RowExclusive on the
-- phase_ledger table, one row updated.
-- Placeholder: the phase_ledger table (schema-qualified), used twice. Bound parameters, in
-- order: the clamps (json), the phase, the step and the DAG run id (may be null).
UPDATE {ledger}
   SET details = coalesce(details, '{}'::jsonb) || jsonb_build_object('param_clamps', %s::jsonb)
 WHERE id = (SELECT max(id) FROM {ledger}
              WHERE phase = %s AND step = %s AND dag_run_id IS NOT DISTINCT FROM %s)
RETURNING id
