-- Set the status of one tier (pending | backed_up | dropped | verified | restored), merging
-- details; triggers/improvement are replaced only when given (NULL keeps the old value).
-- Idempotent. Locks: row lock on the tier_state row. Placeholder {state}: state schema.
INSERT INTO {state}.tier_state (tier, status, triggers, improvement, details, updated_at)
VALUES (%(tier)s, %(status)s, coalesce(%(triggers)s, '[]'::jsonb), coalesce(%(improvement)s, '{}'::jsonb),
        coalesce(%(details)s, '{}'::jsonb), clock_timestamp())
ON CONFLICT (tier) DO UPDATE
   SET status = EXCLUDED.status,
       triggers = coalesce(%(triggers)s, {state}.tier_state.triggers),
       improvement = coalesce(%(improvement)s, {state}.tier_state.improvement),
       details = {state}.tier_state.details || coalesce(%(details)s, '{}'::jsonb),
       updated_at = clock_timestamp()
