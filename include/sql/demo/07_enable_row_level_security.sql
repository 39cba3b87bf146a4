-- Enable row-level security on the 18 application tables and grant table privileges the
-- way Supabase does: an authenticated user (JWT sub = auth.uid()) reads and writes the
-- rows it owns (user_id = auth.uid()); service_role reads and writes everything; anon gets
-- schema usage only (01_create_supabase_base.sql), no table privileges.
-- Idempotent (policies dropped and recreated). Locks: ACCESS EXCLUSIVE on each table for
-- the instant of ALTER TABLE / CREATE POLICY (run at seed time, before the app writes).

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY[
        'users', 'projects', 'investors', 'kyc_verifications', 'tokens', 'allocations',
        'wallets', 'investments', 'payment_plans', 'payments', 'subscriptions',
        'distributions', 'templates', 'configurations', 'documents', 'notifications',
        'bulk_operations', 'emails'
    ] LOOP
        EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY', t);

        EXECUTE format('DROP POLICY IF EXISTS %I ON public.%I', t || '_own_rows', t);
        EXECUTE format('CREATE POLICY %I ON public.%I FOR ALL TO authenticated '
                       'USING (user_id = auth.uid()) WITH CHECK (user_id = auth.uid())', t || '_own_rows', t);

        EXECUTE format('DROP POLICY IF EXISTS %I ON public.%I', t || '_service_role_all', t);
        EXECUTE format('CREATE POLICY %I ON public.%I FOR ALL TO service_role '
                       'USING (true) WITH CHECK (true)', t || '_service_role_all', t);

        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON public.%I TO authenticated, service_role', t);
    END LOOP;
END
$$;
