-- Record a tier as 'dropped' in the same transaction as the drop of its triggers, merging
-- which functions were dropped and which kept into its details. Run as a plain statement
-- among the drop's DDL (no bound parameters): the tier number and the details JSON are
-- composed as literals (values the migration built itself, quoted by psycopg).
-- Idempotent. Locks: row lock on the tier_state row.
-- Placeholders: state, the state schema; tier, the tier number as a literal; details, the
-- JSON text as a literal.
INSERT INTO {state}.tier_state (tier, status, updated_at)
VALUES ({tier}, 'dropped', clock_timestamp())
ON CONFLICT (tier) DO UPDATE
   SET status = 'dropped', updated_at = clock_timestamp(),
       details = {state}.tier_state.details || {details}::jsonb
