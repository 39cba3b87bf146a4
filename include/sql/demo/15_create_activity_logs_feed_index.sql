-- Build the legacy read index of public.activity_logs, (user_id, created_at): the activity
-- feed's "my recent activity" query. Built after the bulk history insert, CONCURRENTLY so
-- that writers are never blocked.
-- Idempotent (IF NOT EXISTS; the seeder drops an INVALID leftover of an interrupted build
-- first). Must run alone, outside a transaction block. Locks: SHARE UPDATE EXCLUSIVE.
CREATE INDEX CONCURRENTLY IF NOT EXISTS activity_logs_user_id_created_at_idx
    ON public.activity_logs (user_id, created_at)
