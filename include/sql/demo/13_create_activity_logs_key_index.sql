-- Build the unique index on public.activity_logs (id) that becomes the primary key
-- (14_add_activity_logs_primary_key.sql), after the bulk history insert, CONCURRENTLY so
-- that writers (the triggers, a workload running beside the seed) are never blocked.
-- Idempotent (IF NOT EXISTS; the seeder drops an INVALID leftover of an interrupted build
-- first). Must run alone, outside a transaction block. Locks: SHARE UPDATE EXCLUSIVE.
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS activity_logs_pkey
    ON public.activity_logs (id)
