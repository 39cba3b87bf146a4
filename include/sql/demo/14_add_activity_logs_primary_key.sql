-- Make the unique index activity_logs_pkey (13_create_activity_logs_key_index.sql) the
-- primary key of public.activity_logs. The key column is already NOT NULL, so this is a
-- catalog change only: no table scan, no index build.
-- Idempotent (does nothing when the table has a primary key). Locks: ACCESS EXCLUSIVE on
-- public.activity_logs for an instant; the seeder sets lock_timeout and retries.
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_constraint
        WHERE conrelid = 'public.activity_logs'::regclass AND contype = 'p'
    ) THEN
        ALTER TABLE public.activity_logs
            ADD CONSTRAINT activity_logs_pkey PRIMARY KEY USING INDEX activity_logs_pkey;
    END IF;
END
$$;
