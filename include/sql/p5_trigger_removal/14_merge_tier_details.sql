-- Merge details into a tier's row without touching its status (a missing row is created as
-- 'pending'). Idempotent. Locks: row lock on the tier_state row.
-- Placeholder: state, the state schema. Bound (named): tier, details (jsonb).
INSERT INTO {state}.tier_state (tier, status, details)
VALUES (%(tier)s, 'pending', %(details)s)
ON CONFLICT (tier) DO UPDATE
   SET details = {state}.tier_state.details || EXCLUDED.details,
       updated_at = clock_timestamp()
