-- Create the demo application's 18 tables in schema public (an investment platform:
-- customers are tenants, users act on projects, investors, tokens and money).
-- Every table has id uuid (gen_random_uuid()), customer_id (the tenant), user_id (the
-- owning auth user, which RLS checks) and created_at; some have updated_at, maintained by
-- the non-logging set_updated_at() trigger (06_create_triggers.sql).
-- Foreign keys are plain (NO ACTION): a single-row DELETE never cascades into other tables,
-- so it writes exactly one activity row. Rows referenced by others cannot be deleted.
-- Idempotent (IF NOT EXISTS). Locks: none on existing tables (creates new ones only).

CREATE TABLE IF NOT EXISTS public.users (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id     uuid,
    user_id         uuid,                 -- the auth.users id this profile belongs to / was created by
    email           text,
    full_name       text,
    role            text DEFAULT 'member',            -- owner | admin | member | viewer
    status          text DEFAULT 'invited',           -- invited | active | suspended | deactivated
    last_sign_in_at timestamptz,
    created_at      timestamptz DEFAULT now(),
    updated_at      timestamptz DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.projects (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id   uuid,
    user_id       uuid,
    name          text,
    description   text,
    status        text DEFAULT 'draft',                 -- draft | active | funded | closed
    target_amount numeric(18,2),
    currency      text DEFAULT 'USD',
    starts_on     date,
    created_at    timestamptz DEFAULT now(),
    updated_at    timestamptz DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.investors (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id   uuid,
    user_id       uuid,
    name          text,
    email         text,
    investor_type text DEFAULT 'individual',            -- individual | institution | fund
    country       text,
    accredited    boolean DEFAULT false,
    created_at    timestamptz DEFAULT now(),
    updated_at    timestamptz DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.kyc_verifications (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id uuid,
    user_id     uuid,
    investor_id uuid REFERENCES public.investors (id),
    provider    text,
    status      text DEFAULT 'pending',                 -- pending | approved | rejected | expired
    reviewed_at timestamptz,
    created_at  timestamptz DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.tokens (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id      uuid,
    user_id          uuid,
    project_id       uuid REFERENCES public.projects (id),
    symbol           text,
    name             text,
    total_supply     numeric(38,0),
    decimals         integer DEFAULT 18,
    status           text DEFAULT 'draft',              -- draft | deployed | paused | retired
    contract_address text,
    created_at       timestamptz DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.allocations (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id uuid,
    user_id     uuid,
    token_id    uuid REFERENCES public.tokens (id),
    investor_id uuid REFERENCES public.investors (id),
    amount      numeric(38,0),
    status      text DEFAULT 'pending',                 -- pending | confirmed | distributed
    created_at  timestamptz DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.wallets (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id uuid,
    user_id     uuid,
    investor_id uuid REFERENCES public.investors (id),
    address     text,
    network     text DEFAULT 'ethereum',                -- ethereum | polygon | solana
    is_primary  boolean DEFAULT false,
    created_at  timestamptz DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.investments (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id uuid,
    user_id     uuid,
    project_id  uuid REFERENCES public.projects (id),
    investor_id uuid REFERENCES public.investors (id),
    amount      numeric(18,2),
    currency    text DEFAULT 'USD',
    status      text DEFAULT 'pending',                 -- pending | committed | funded | cancelled
    created_at  timestamptz DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.payment_plans (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id   uuid,
    user_id       uuid,
    investment_id uuid REFERENCES public.investments (id),
    name          text,
    total_amount  numeric(18,2),
    installments  integer DEFAULT 1,
    frequency     text DEFAULT 'monthly',               -- monthly | quarterly | once
    status        text DEFAULT 'draft',                 -- draft | active | completed | defaulted
    created_at    timestamptz DEFAULT now(),
    updated_at    timestamptz DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.payments (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id     uuid,
    user_id         uuid,
    payment_plan_id uuid REFERENCES public.payment_plans (id),
    amount          numeric(18,2),
    currency        text DEFAULT 'USD',
    method          text DEFAULT 'card',                -- card | wire | ach | crypto
    status          text DEFAULT 'pending',             -- pending | succeeded | failed | refunded
    external_ref    text,
    paid_at         timestamptz,
    created_at      timestamptz DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.subscriptions (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id uuid,
    user_id     uuid,
    investor_id uuid REFERENCES public.investors (id),
    project_id  uuid REFERENCES public.projects (id),
    amount      numeric(18,2),
    status      text DEFAULT 'pending',                 -- pending | signed | approved | rejected
    signed_at   timestamptz,
    created_at  timestamptz DEFAULT now(),
    updated_at  timestamptz DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.distributions (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id       uuid,
    user_id           uuid,
    project_id        uuid REFERENCES public.projects (id),
    amount            numeric(18,2),
    distribution_date date,
    status            text DEFAULT 'scheduled',         -- scheduled | processing | paid | cancelled
    created_at        timestamptz DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.templates (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id uuid,
    user_id     uuid,
    name        text,
    kind        text DEFAULT 'email',                   -- email | document | contract
    body        text,
    version     integer DEFAULT 1,
    created_at  timestamptz DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.configurations (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id uuid,
    user_id     uuid,
    key         text,
    value       jsonb DEFAULT '{}'::jsonb,
    description text,
    created_at  timestamptz DEFAULT now(),
    updated_at  timestamptz DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.documents (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id uuid,
    user_id     uuid,
    project_id  uuid REFERENCES public.projects (id),
    title       text,
    file_path   text,
    mime_type   text,
    size_bytes  bigint,
    status      text DEFAULT 'uploaded',                -- uploaded | reviewed | signed | archived
    created_at  timestamptz DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.notifications (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id  uuid,
    user_id      uuid,
    recipient_id uuid,
    kind         text DEFAULT 'info',                   -- info | action_required | reminder
    title        text,
    body         text,
    read_at      timestamptz,
    created_at   timestamptz DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.bulk_operations (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id     uuid,
    user_id         uuid,
    operation       text,                               -- import_investors | export_payments | ...
    total_items     integer DEFAULT 0,
    processed_items integer DEFAULT 0,
    status          text DEFAULT 'queued',              -- queued | running | completed | failed
    created_at      timestamptz DEFAULT now(),
    updated_at      timestamptz DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.emails (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id uuid,
    user_id     uuid,
    template_id uuid REFERENCES public.templates (id),
    to_address  text,
    subject     text,
    body        text,
    status      text DEFAULT 'queued',                  -- queued | sent | bounced | failed
    sent_at     timestamptz,
    created_at  timestamptz DEFAULT now()
);

-- Foreign-key columns are indexed, so deleting a row does not scan its children.
CREATE INDEX IF NOT EXISTS kyc_verifications_investor_id_idx ON public.kyc_verifications (investor_id);
CREATE INDEX IF NOT EXISTS tokens_project_id_idx ON public.tokens (project_id);
CREATE INDEX IF NOT EXISTS allocations_token_id_idx ON public.allocations (token_id);
CREATE INDEX IF NOT EXISTS allocations_investor_id_idx ON public.allocations (investor_id);
CREATE INDEX IF NOT EXISTS wallets_investor_id_idx ON public.wallets (investor_id);
CREATE INDEX IF NOT EXISTS investments_project_id_idx ON public.investments (project_id);
CREATE INDEX IF NOT EXISTS investments_investor_id_idx ON public.investments (investor_id);
CREATE INDEX IF NOT EXISTS payment_plans_investment_id_idx ON public.payment_plans (investment_id);
CREATE INDEX IF NOT EXISTS payments_payment_plan_id_idx ON public.payments (payment_plan_id);
CREATE INDEX IF NOT EXISTS subscriptions_investor_id_idx ON public.subscriptions (investor_id);
CREATE INDEX IF NOT EXISTS subscriptions_project_id_idx ON public.subscriptions (project_id);
CREATE INDEX IF NOT EXISTS distributions_project_id_idx ON public.distributions (project_id);
CREATE INDEX IF NOT EXISTS documents_project_id_idx ON public.documents (project_id);
CREATE INDEX IF NOT EXISTS emails_template_id_idx ON public.emails (template_id);
