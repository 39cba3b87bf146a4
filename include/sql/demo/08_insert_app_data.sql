-- Insert the demo application's data: customers (tenants, no table of their own), auth
-- users with their public.users profiles, and rows in the other 17 tables, each owned by
-- a user of its customer and referring to parents of the same customer.
-- The rows go through the logging triggers (no JWT claims: system actions, actor NULL),
-- which is how the application's own recent activity rows appear.
-- Row counts come from settings the seeder sets in the same transaction:
-- demo_seed.customers, demo_seed.<table> for each of the 18 tables and demo_seed.slots
-- (the largest of the table counts).
-- Not idempotent: every run adds rows. Locks: ROW EXCLUSIVE on the tables it fills.

CREATE TEMP TABLE seed_customers ON COMMIT DROP AS
SELECT n, gen_random_uuid() AS id
FROM generate_series(1, current_setting('demo_seed.customers')::int) AS n;

-- Rows by (table, customer, k), so a child row picks an owner or a parent of its own
-- customer with a deterministic spread: pg_temp.seed_ref('projects', customer, n).
CREATE TEMP TABLE seed_refs (
    tbl         text,
    customer_id uuid,
    k           int,
    cnt         int,
    id          uuid,
    PRIMARY KEY (tbl, customer_id, k)
) ON COMMIT DROP;

CREATE OR REPLACE FUNCTION pg_temp.seed_ref(p_tbl text, p_customer uuid, p_n bigint)
RETURNS uuid
LANGUAGE sql
STABLE
AS $$
    SELECT id FROM seed_refs
    WHERE tbl = p_tbl AND customer_id = p_customer AND k = 1 + (p_n % cnt)
$$;

CREATE OR REPLACE FUNCTION pg_temp.pick(p_choices text[])
RETURNS text
LANGUAGE sql
VOLATILE
AS $$
    SELECT p_choices[1 + floor(random() * cardinality(p_choices))::int]
$$;

-- auth.users and their profiles ----------------------------------------------------------
CREATE TEMP TABLE seed_people ON COMMIT DROP AS
SELECT g AS n,
       gen_random_uuid() AS id,
       c.id AS customer_id,
       c.n AS customer_n,
       pg_temp.pick(ARRAY['José', 'Zoë', 'Łukasz', 'Søren', 'Amélie', 'Noa', 'Aarav', 'Chloé',
                          'Olúwaseun', 'Mei', 'Liam', 'Fatima', 'Nguyễn', 'Björn', 'Ana', 'Omar'])
           || ' ' ||
       pg_temp.pick(ARRAY['García', 'Müller', 'Nakamura', 'O''Brien', 'Smith', 'Kowalski',
                          'Ivanova', 'Cohen', 'Al-Farsi', 'Dubois', 'Rossi', 'Okafor', 'Chen',
                          'Johansson', 'Silva', 'Patel']) AS full_name
FROM generate_series(1, current_setting('demo_seed.users')::int) AS g
JOIN seed_customers c ON c.n = 1 + g % current_setting('demo_seed.customers')::int;

INSERT INTO auth.users (id, email, created_at)
SELECT id, 'user' || n || '@customer' || customer_n || '.example.com', now() - random() * interval '730 days'
FROM seed_people;

INSERT INTO public.users (id, customer_id, user_id, email, full_name, role, status, last_sign_in_at, created_at)
SELECT p.id, p.customer_id, p.id, 'user' || p.n || '@customer' || p.customer_n || '.example.com', p.full_name,
       CASE WHEN p.n <= current_setting('demo_seed.customers')::int THEN 'owner'
            ELSE pg_temp.pick(ARRAY['admin', 'member', 'member', 'member', 'viewer']) END,
       pg_temp.pick(ARRAY['active', 'active', 'active', 'active', 'invited', 'suspended']),
       now() - random() * interval '30 days',
       now() - random() * interval '730 days'
FROM seed_people p;

INSERT INTO seed_refs
SELECT 'users', customer_id, row_number() OVER w, count(*) OVER (PARTITION BY customer_id), id
FROM seed_people WINDOW w AS (PARTITION BY customer_id ORDER BY id);

-- The numbered series every other table is filled from: its customer and owner.
CREATE TEMP TABLE seed_slots ON COMMIT DROP AS
SELECT g, c.id AS customer_id, pg_temp.seed_ref('users', c.id, g / current_setting('demo_seed.customers')::int) AS owner
FROM generate_series(1, current_setting('demo_seed.slots')::int) AS g
JOIN seed_customers c ON c.n = 1 + g % current_setting('demo_seed.customers')::int;
CREATE INDEX ON seed_slots (g);

-- projects, investors ------------------------------------------------------------------
INSERT INTO public.projects (customer_id, user_id, name, description, status, target_amount, currency, starts_on, created_at)
SELECT s.customer_id, s.owner,
       pg_temp.pick(ARRAY['Harbor', 'Solar', 'Maple', 'Aurora', 'Granite', 'Riverside', 'Cedar', 'Nova'])
           || ' ' || pg_temp.pick(ARRAY['Residences', 'Fund I', 'Wind Farm', 'Offices', 'Logistics Park', 'Growth Round'])
           || ' ' || s.g,
       'Demo project ' || s.g,
       pg_temp.pick(ARRAY['draft', 'active', 'active', 'funded', 'closed']),
       round((50000 + random() * 5000000)::numeric, 2),
       pg_temp.pick(ARRAY['USD', 'USD', 'EUR', 'GBP']),
       current_date - (random() * 500)::int,
       now() - random() * interval '700 days'
FROM seed_slots s WHERE s.g <= current_setting('demo_seed.projects')::int;

INSERT INTO seed_refs
SELECT 'projects', customer_id, row_number() OVER w, count(*) OVER (PARTITION BY customer_id), id
FROM public.projects WINDOW w AS (PARTITION BY customer_id ORDER BY id);

INSERT INTO public.investors (customer_id, user_id, name, email, investor_type, country, accredited, created_at)
SELECT s.customer_id, s.owner,
       pg_temp.pick(ARRAY['Amélie', 'Hiroshi', 'Priya', 'Kwame', 'Sven', 'Lucía', 'Dmitri', 'Aisha'])
           || ' ' || pg_temp.pick(ARRAY['Laurent', 'Tanaka', 'Sharma', 'Mensah', 'Berg', 'Fernández', 'Volkov', 'Khan']),
       'investor' || s.g || '@mail.example.org',
       pg_temp.pick(ARRAY['individual', 'individual', 'institution', 'fund']),
       pg_temp.pick(ARRAY['US', 'GB', 'DE', 'FR', 'JP', 'IN', 'NG', 'BR', 'AE', 'IL']),
       random() < 0.6,
       now() - random() * interval '700 days'
FROM seed_slots s WHERE s.g <= current_setting('demo_seed.investors')::int;

INSERT INTO seed_refs
SELECT 'investors', customer_id, row_number() OVER w, count(*) OVER (PARTITION BY customer_id), id
FROM public.investors WINDOW w AS (PARTITION BY customer_id ORDER BY id);

INSERT INTO public.kyc_verifications (customer_id, user_id, investor_id, provider, status, reviewed_at, created_at)
SELECT s.customer_id, s.owner, pg_temp.seed_ref('investors', s.customer_id, s.g),
       pg_temp.pick(ARRAY['onfido', 'jumio', 'sumsub', 'persona']),
       pg_temp.pick(ARRAY['pending', 'approved', 'approved', 'approved', 'rejected', 'expired']),
       now() - random() * interval '600 days',
       now() - random() * interval '700 days'
FROM seed_slots s WHERE s.g <= current_setting('demo_seed.kyc_verifications')::int;

-- tokens, allocations, wallets ---------------------------------------------------------
INSERT INTO public.tokens (customer_id, user_id, project_id, symbol, name, total_supply, decimals, status, contract_address, created_at)
SELECT s.customer_id, s.owner, pg_temp.seed_ref('projects', s.customer_id, s.g),
       pg_temp.pick(ARRAY['HBR', 'SOL', 'MPL', 'AUR', 'GRN', 'RVS', 'CDR', 'NOV']) || s.g,
       'Demo token ' || s.g,
       (1000000 + floor(random() * 1000000000))::numeric,
       18,
       pg_temp.pick(ARRAY['draft', 'deployed', 'deployed', 'paused', 'retired']),
       '0x' || substr(md5(random()::text) || md5(random()::text), 1, 40),
       now() - random() * interval '700 days'
FROM seed_slots s WHERE s.g <= current_setting('demo_seed.tokens')::int;

INSERT INTO seed_refs
SELECT 'tokens', customer_id, row_number() OVER w, count(*) OVER (PARTITION BY customer_id), id
FROM public.tokens WINDOW w AS (PARTITION BY customer_id ORDER BY id);

INSERT INTO public.allocations (customer_id, user_id, token_id, investor_id, amount, status, created_at)
SELECT s.customer_id, s.owner, pg_temp.seed_ref('tokens', s.customer_id, s.g), pg_temp.seed_ref('investors', s.customer_id, s.g),
       (100 + floor(random() * 100000))::numeric,
       pg_temp.pick(ARRAY['pending', 'confirmed', 'confirmed', 'distributed']),
       now() - random() * interval '700 days'
FROM seed_slots s WHERE s.g <= current_setting('demo_seed.allocations')::int;

INSERT INTO public.wallets (customer_id, user_id, investor_id, address, network, is_primary, created_at)
SELECT s.customer_id, s.owner, pg_temp.seed_ref('investors', s.customer_id, s.g),
       '0x' || substr(md5(random()::text) || md5(random()::text), 1, 40),
       pg_temp.pick(ARRAY['ethereum', 'ethereum', 'polygon', 'solana']),
       random() < 0.5,
       now() - random() * interval '700 days'
FROM seed_slots s WHERE s.g <= current_setting('demo_seed.wallets')::int;

-- investments, payment plans, payments, subscriptions, distributions ------------------
INSERT INTO public.investments (customer_id, user_id, project_id, investor_id, amount, currency, status, created_at)
SELECT s.customer_id, s.owner, pg_temp.seed_ref('projects', s.customer_id, s.g), pg_temp.seed_ref('investors', s.customer_id, s.g),
       round((1000 + random() * 250000)::numeric, 2),
       pg_temp.pick(ARRAY['USD', 'USD', 'EUR']),
       pg_temp.pick(ARRAY['pending', 'committed', 'funded', 'funded', 'cancelled']),
       now() - random() * interval '700 days'
FROM seed_slots s WHERE s.g <= current_setting('demo_seed.investments')::int;

INSERT INTO seed_refs
SELECT 'investments', customer_id, row_number() OVER w, count(*) OVER (PARTITION BY customer_id), id
FROM public.investments WINDOW w AS (PARTITION BY customer_id ORDER BY id);

INSERT INTO public.payment_plans (customer_id, user_id, investment_id, name, total_amount, installments, frequency, status, created_at)
SELECT s.customer_id, s.owner, pg_temp.seed_ref('investments', s.customer_id, s.g),
       pg_temp.pick(ARRAY['Standard', 'Flexible', 'Downpayment', 'Quarterly saver']) || ' plan ' || s.g,
       round((1000 + random() * 100000)::numeric, 2),
       pg_temp.pick(ARRAY['1', '3', '6', '12', '24'])::int,
       pg_temp.pick(ARRAY['monthly', 'monthly', 'quarterly', 'once']),
       pg_temp.pick(ARRAY['draft', 'active', 'active', 'completed', 'defaulted']),
       now() - random() * interval '700 days'
FROM seed_slots s WHERE s.g <= current_setting('demo_seed.payment_plans')::int;

INSERT INTO seed_refs
SELECT 'payment_plans', customer_id, row_number() OVER w, count(*) OVER (PARTITION BY customer_id), id
FROM public.payment_plans WINDOW w AS (PARTITION BY customer_id ORDER BY id);

INSERT INTO public.payments (customer_id, user_id, payment_plan_id, amount, currency, method, status, external_ref, paid_at, created_at)
SELECT s.customer_id, s.owner, pg_temp.seed_ref('payment_plans', s.customer_id, s.g),
       round((50 + random() * 20000)::numeric, 2),
       pg_temp.pick(ARRAY['USD', 'USD', 'EUR']),
       pg_temp.pick(ARRAY['card', 'card', 'wire', 'ach', 'crypto']),
       pg_temp.pick(ARRAY['pending', 'succeeded', 'succeeded', 'succeeded', 'failed', 'refunded']),
       'pi_' || substr(md5(random()::text), 1, 24),
       now() - random() * interval '600 days',
       now() - random() * interval '700 days'
FROM seed_slots s WHERE s.g <= current_setting('demo_seed.payments')::int;

INSERT INTO public.subscriptions (customer_id, user_id, investor_id, project_id, amount, status, signed_at, created_at)
SELECT s.customer_id, s.owner, pg_temp.seed_ref('investors', s.customer_id, s.g), pg_temp.seed_ref('projects', s.customer_id, s.g),
       round((5000 + random() * 500000)::numeric, 2),
       pg_temp.pick(ARRAY['pending', 'signed', 'approved', 'approved', 'rejected']),
       now() - random() * interval '600 days',
       now() - random() * interval '700 days'
FROM seed_slots s WHERE s.g <= current_setting('demo_seed.subscriptions')::int;

INSERT INTO public.distributions (customer_id, user_id, project_id, amount, distribution_date, status, created_at)
SELECT s.customer_id, s.owner, pg_temp.seed_ref('projects', s.customer_id, s.g),
       round((1000 + random() * 200000)::numeric, 2),
       current_date - (random() * 600)::int + 60,
       pg_temp.pick(ARRAY['scheduled', 'processing', 'paid', 'paid', 'cancelled']),
       now() - random() * interval '700 days'
FROM seed_slots s WHERE s.g <= current_setting('demo_seed.distributions')::int;

-- templates, configurations, documents -------------------------------------------------
INSERT INTO public.templates (customer_id, user_id, name, kind, body, version, created_at)
SELECT s.customer_id, s.owner,
       pg_temp.pick(ARRAY['Welcome', 'Payment reminder', 'Capital call', 'KYC request', 'Quarterly report', 'Subscription agreement'])
           || ' v' || (1 + s.g % 4),
       pg_temp.pick(ARRAY['email', 'email', 'document', 'contract']),
       'Dear {{name}}, this is template ' || s.g || '.',
       1 + s.g % 4,
       now() - random() * interval '700 days'
FROM seed_slots s WHERE s.g <= current_setting('demo_seed.templates')::int;

INSERT INTO seed_refs
SELECT 'templates', customer_id, row_number() OVER w, count(*) OVER (PARTITION BY customer_id), id
FROM public.templates WINDOW w AS (PARTITION BY customer_id ORDER BY id);

INSERT INTO public.configurations (customer_id, user_id, key, value, description, created_at)
SELECT s.customer_id, s.owner,
       pg_temp.pick(ARRAY['payments.currency', 'kyc.provider', 'emails.sender', 'features.secondary_market',
                          'tokens.default_network', 'reports.timezone']) || '.' || s.g,
       jsonb_build_object('enabled', random() < 0.7, 'limit', floor(random() * 1000)),
       'Setting ' || s.g,
       now() - random() * interval '700 days'
FROM seed_slots s WHERE s.g <= current_setting('demo_seed.configurations')::int;

INSERT INTO public.documents (customer_id, user_id, project_id, title, file_path, mime_type, size_bytes, status, created_at)
SELECT s.customer_id, s.owner, pg_temp.seed_ref('projects', s.customer_id, s.g),
       pg_temp.pick(ARRAY['Term sheet', 'Offering memorandum', 'Subscription agreement', 'Audit report', 'Cap table'])
           || ' ' || s.g,
       'documents/' || s.customer_id || '/' || s.g || '.pdf',
       pg_temp.pick(ARRAY['application/pdf', 'application/pdf', 'image/png', 'text/csv']),
       (10000 + floor(random() * 20000000))::bigint,
       pg_temp.pick(ARRAY['uploaded', 'reviewed', 'signed', 'archived']),
       now() - random() * interval '700 days'
FROM seed_slots s WHERE s.g <= current_setting('demo_seed.documents')::int;

-- notifications, bulk operations, emails -----------------------------------------------
INSERT INTO public.notifications (customer_id, user_id, recipient_id, kind, title, body, read_at, created_at)
SELECT s.customer_id, s.owner, pg_temp.seed_ref('users', s.customer_id, s.g * 7),
       pg_temp.pick(ARRAY['info', 'info', 'action_required', 'reminder']),
       pg_temp.pick(ARRAY['Payment received', 'KYC approved', 'New document', 'Distribution scheduled', 'Welcome 👋']),
       'Notification ' || s.g,
       CASE WHEN random() < 0.6 THEN now() - random() * interval '300 days' END,
       now() - random() * interval '700 days'
FROM seed_slots s WHERE s.g <= current_setting('demo_seed.notifications')::int;

-- One statement: the statement-level trigger logs it once, with the row count.
INSERT INTO public.bulk_operations (customer_id, user_id, operation, total_items, processed_items, status, created_at)
SELECT s.customer_id, s.owner,
       pg_temp.pick(ARRAY['import_investors', 'export_payments', 'send_statements', 'recalculate_allocations']),
       t.total, floor(random() * t.total)::int,
       pg_temp.pick(ARRAY['queued', 'running', 'completed', 'completed', 'failed']),
       now() - random() * interval '700 days'
FROM seed_slots s
CROSS JOIN LATERAL (SELECT (10 + floor(random() * 5000))::int AS total) AS t
WHERE s.g <= current_setting('demo_seed.bulk_operations')::int;

INSERT INTO public.emails (customer_id, user_id, template_id, to_address, subject, body, status, sent_at, created_at)
SELECT s.customer_id, s.owner, pg_temp.seed_ref('templates', s.customer_id, s.g),
       'recipient' || s.g || '@mail.example.org',
       pg_temp.pick(ARRAY['Your payment was received', 'Action required: KYC', 'Quarterly report', 'Welcome aboard 🚀']),
       'Hello, message ' || s.g || '.',
       pg_temp.pick(ARRAY['queued', 'sent', 'sent', 'sent', 'bounced', 'failed']),
       now() - random() * interval '600 days',
       now() - random() * interval '700 days'
FROM seed_slots s WHERE s.g <= current_setting('demo_seed.emails')::int;
