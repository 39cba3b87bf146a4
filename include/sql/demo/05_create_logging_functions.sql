-- Create the legacy logging trigger functions, one or more per domain (log_user_activity,
-- log_payment_plan_activity, log_email_activity, ...), as the application had them.
-- Every write to the log has the one form phase 2 rewrites mechanically:
--     INSERT INTO public.activity_logs (col, ...) VALUES (expr, ...);
-- a column list, one VALUES tuple, one statement per IF/ELSIF branch on TG_OP. String
-- literals inside those statements hold no commas, parentheses or semicolons.
-- Actor: auth.uid() (NULL for system writes); customer: the row's customer_id; action:
-- the trigger argument when the trigger passes one (status_changed, role_changed, read,
-- sent), else created / updated / deleted; entity_id: the row id as text.
-- SECURITY DEFINER with search_path = public: application roles cannot write the log
-- themselves, the functions' owner does.
-- Idempotent (CREATE OR REPLACE). Locks: none (functions are not locked by callers).

-- users --------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION public.log_user_activity()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'created', 'user', NEW.id::text,
                'User ' || coalesce(NEW.full_name, NEW.email, NEW.id::text) || ' was created',
                jsonb_build_object('email', NEW.email, 'role', NEW.role, 'status', NEW.status),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'UPDATE' AND TG_ARGV[0] = 'status_changed' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'status_changed', 'user', NEW.id::text,
                'User ' || coalesce(NEW.full_name, NEW.email, NEW.id::text) || ' is now ' || coalesce(NEW.status, 'without status'),
                jsonb_build_object('from', OLD.status, 'to', NEW.status),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'UPDATE' AND TG_ARGV[0] = 'role_changed' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'role_changed', 'user', NEW.id::text,
                'User ' || coalesce(NEW.full_name, NEW.email, NEW.id::text) || ' became ' || coalesce(NEW.role, 'roleless'),
                jsonb_build_object('from', OLD.role, 'to', NEW.role),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'updated', 'user', NEW.id::text,
                'User ' || coalesce(NEW.full_name, NEW.email, NEW.id::text) || ' was updated',
                jsonb_build_object('changed_fields', public.changed_fields(to_jsonb(OLD), to_jsonb(NEW))),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), OLD.customer_id, 'deleted', 'user', OLD.id::text,
                'User ' || coalesce(OLD.full_name, OLD.email, OLD.id::text) || ' was deleted',
                jsonb_build_object('email', OLD.email, 'role', OLD.role, 'status', OLD.status),
                public.request_ip(), public.request_header('user-agent'));
    END IF;
    RETURN NULL;
END;
$$;

-- projects -----------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION public.log_project_activity()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'created', 'project', NEW.id::text,
                'Project ' || coalesce(NEW.name, NEW.id::text) || ' was created',
                jsonb_build_object('name', NEW.name, 'status', NEW.status, 'target_amount', NEW.target_amount, 'currency', NEW.currency),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'UPDATE' AND TG_ARGV[0] = 'status_changed' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'status_changed', 'project', NEW.id::text,
                'Project ' || coalesce(NEW.name, NEW.id::text) || ' moved from ' || coalesce(OLD.status, 'none') || ' to ' || coalesce(NEW.status, 'none'),
                jsonb_build_object('from', OLD.status, 'to', NEW.status),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'updated', 'project', NEW.id::text,
                'Project ' || coalesce(NEW.name, NEW.id::text) || ' was updated',
                jsonb_build_object('changed_fields', public.changed_fields(to_jsonb(OLD), to_jsonb(NEW)), 'status', NEW.status),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), OLD.customer_id, 'deleted', 'project', OLD.id::text,
                'Project ' || coalesce(OLD.name, OLD.id::text) || ' was deleted',
                jsonb_build_object('name', OLD.name, 'status', OLD.status),
                public.request_ip(), public.request_header('user-agent'));
    END IF;
    RETURN NULL;
END;
$$;

-- investors ----------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION public.log_investor_activity()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'created', 'investor', NEW.id::text,
                'Investor ' || coalesce(NEW.name, NEW.email, NEW.id::text) || ' was added',
                jsonb_build_object('name', NEW.name, 'investor_type', NEW.investor_type, 'country', NEW.country, 'accredited', NEW.accredited),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'updated', 'investor', NEW.id::text,
                'Investor ' || coalesce(NEW.name, NEW.email, NEW.id::text) || ' was updated',
                jsonb_build_object('changed_fields', public.changed_fields(to_jsonb(OLD), to_jsonb(NEW)), 'accredited', NEW.accredited),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), OLD.customer_id, 'deleted', 'investor', OLD.id::text,
                'Investor ' || coalesce(OLD.name, OLD.email, OLD.id::text) || ' was removed',
                jsonb_build_object('name', OLD.name, 'investor_type', OLD.investor_type),
                public.request_ip(), public.request_header('user-agent'));
    END IF;
    RETURN NULL;
END;
$$;

-- kyc_verifications --------------------------------------------------------------------
CREATE OR REPLACE FUNCTION public.log_kyc_verification_activity()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'created', 'kyc_verification', NEW.id::text,
                'KYC verification started with ' || coalesce(NEW.provider, 'an unknown provider'),
                jsonb_build_object('investor_id', NEW.investor_id, 'provider', NEW.provider, 'status', NEW.status),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'UPDATE' AND TG_ARGV[0] = 'status_changed' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'status_changed', 'kyc_verification', NEW.id::text,
                'KYC verification is now ' || coalesce(NEW.status, 'unknown'),
                jsonb_build_object('from', OLD.status, 'to', NEW.status, 'investor_id', NEW.investor_id),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'updated', 'kyc_verification', NEW.id::text,
                'KYC verification was updated',
                jsonb_build_object('changed_fields', public.changed_fields(to_jsonb(OLD), to_jsonb(NEW))),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), OLD.customer_id, 'deleted', 'kyc_verification', OLD.id::text,
                'KYC verification was deleted',
                jsonb_build_object('investor_id', OLD.investor_id, 'status', OLD.status),
                public.request_ip(), public.request_header('user-agent'));
    END IF;
    RETURN NULL;
END;
$$;

-- tokens -------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION public.log_token_activity()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'created', 'token', NEW.id::text,
                'Token ' || coalesce(NEW.symbol, NEW.name, NEW.id::text) || ' was created',
                jsonb_build_object('symbol', NEW.symbol, 'name', NEW.name, 'total_supply', NEW.total_supply, 'status', NEW.status),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'UPDATE' AND TG_ARGV[0] = 'status_changed' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'status_changed', 'token', NEW.id::text,
                'Token ' || coalesce(NEW.symbol, NEW.id::text) || ' is now ' || coalesce(NEW.status, 'unknown'),
                jsonb_build_object('from', OLD.status, 'to', NEW.status, 'contract_address', NEW.contract_address),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'updated', 'token', NEW.id::text,
                'Token ' || coalesce(NEW.symbol, NEW.id::text) || ' was updated',
                jsonb_build_object('changed_fields', public.changed_fields(to_jsonb(OLD), to_jsonb(NEW))),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), OLD.customer_id, 'deleted', 'token', OLD.id::text,
                'Token ' || coalesce(OLD.symbol, OLD.id::text) || ' was deleted',
                jsonb_build_object('symbol', OLD.symbol, 'status', OLD.status),
                public.request_ip(), public.request_header('user-agent'));
    END IF;
    RETURN NULL;
END;
$$;

-- allocations --------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION public.log_allocation_activity()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'created', 'allocation', NEW.id::text,
                'Allocation of ' || coalesce(NEW.amount::text, 'an unknown amount') || ' tokens was created',
                jsonb_build_object('token_id', NEW.token_id, 'investor_id', NEW.investor_id, 'amount', NEW.amount, 'status', NEW.status),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'updated', 'allocation', NEW.id::text,
                'Allocation of ' || coalesce(NEW.amount::text, 'an unknown amount') || ' tokens was updated',
                jsonb_build_object('changed_fields', public.changed_fields(to_jsonb(OLD), to_jsonb(NEW)), 'status', NEW.status),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), OLD.customer_id, 'deleted', 'allocation', OLD.id::text,
                'Allocation of ' || coalesce(OLD.amount::text, 'an unknown amount') || ' tokens was deleted',
                jsonb_build_object('token_id', OLD.token_id, 'investor_id', OLD.investor_id, 'amount', OLD.amount),
                public.request_ip(), public.request_header('user-agent'));
    END IF;
    RETURN NULL;
END;
$$;

-- wallets (one trigger for all three events) -------------------------------------------
CREATE OR REPLACE FUNCTION public.log_wallet_activity()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'created', 'wallet', NEW.id::text,
                'Wallet ' || coalesce(NEW.address, NEW.id::text) || ' was linked on ' || coalesce(NEW.network, 'an unknown network'),
                jsonb_build_object('address', NEW.address, 'network', NEW.network, 'is_primary', NEW.is_primary),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'updated', 'wallet', NEW.id::text,
                'Wallet ' || coalesce(NEW.address, NEW.id::text) || ' was updated',
                jsonb_build_object('changed_fields', public.changed_fields(to_jsonb(OLD), to_jsonb(NEW)), 'is_primary', NEW.is_primary),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), OLD.customer_id, 'deleted', 'wallet', OLD.id::text,
                'Wallet ' || coalesce(OLD.address, OLD.id::text) || ' was unlinked',
                jsonb_build_object('address', OLD.address, 'network', OLD.network),
                public.request_ip(), public.request_header('user-agent'));
    END IF;
    RETURN NULL;
END;
$$;

-- investments --------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION public.log_investment_activity()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'created', 'investment', NEW.id::text,
                'Investment of ' || coalesce(NEW.amount::text, '0') || ' ' || coalesce(NEW.currency, '') || ' was created',
                jsonb_build_object('amount', NEW.amount, 'currency', NEW.currency, 'status', NEW.status, 'project_id', NEW.project_id, 'investor_id', NEW.investor_id),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'UPDATE' AND TG_ARGV[0] = 'status_changed' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'status_changed', 'investment', NEW.id::text,
                'Investment of ' || coalesce(NEW.amount::text, '0') || ' ' || coalesce(NEW.currency, '') || ' is now ' || coalesce(NEW.status, 'unknown'),
                jsonb_build_object('from', OLD.status, 'to', NEW.status, 'amount', NEW.amount),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'updated', 'investment', NEW.id::text,
                'Investment of ' || coalesce(NEW.amount::text, '0') || ' ' || coalesce(NEW.currency, '') || ' was updated',
                jsonb_build_object('changed_fields', public.changed_fields(to_jsonb(OLD), to_jsonb(NEW)), 'amount', NEW.amount),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), OLD.customer_id, 'deleted', 'investment', OLD.id::text,
                'Investment of ' || coalesce(OLD.amount::text, '0') || ' ' || coalesce(OLD.currency, '') || ' was deleted',
                jsonb_build_object('amount', OLD.amount, 'currency', OLD.currency, 'status', OLD.status),
                public.request_ip(), public.request_header('user-agent'));
    END IF;
    RETURN NULL;
END;
$$;

-- payment_plans ------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION public.log_payment_plan_activity()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'created', 'payment_plan', NEW.id::text,
                'Payment plan ' || coalesce(NEW.name, NEW.id::text) || ' was created',
                jsonb_build_object('name', NEW.name, 'total_amount', NEW.total_amount, 'installments', NEW.installments, 'frequency', NEW.frequency, 'status', NEW.status),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'UPDATE' AND TG_ARGV[0] = 'status_changed' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'status_changed', 'payment_plan', NEW.id::text,
                'Payment plan ' || coalesce(NEW.name, NEW.id::text) || ' is now ' || coalesce(NEW.status, 'unknown'),
                jsonb_build_object('from', OLD.status, 'to', NEW.status, 'total_amount', NEW.total_amount),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'updated', 'payment_plan', NEW.id::text,
                'Payment plan ' || coalesce(NEW.name, NEW.id::text) || ' was updated',
                jsonb_build_object('changed_fields', public.changed_fields(to_jsonb(OLD), to_jsonb(NEW)), 'installments', NEW.installments),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), OLD.customer_id, 'deleted', 'payment_plan', OLD.id::text,
                'Payment plan ' || coalesce(OLD.name, OLD.id::text) || ' was deleted',
                jsonb_build_object('name', OLD.name, 'total_amount', OLD.total_amount, 'status', OLD.status),
                public.request_ip(), public.request_header('user-agent'));
    END IF;
    RETURN NULL;
END;
$$;

-- payments -----------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION public.log_payment_activity()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'created', 'payment', NEW.id::text,
                'Payment of ' || coalesce(NEW.amount::text, '0') || ' ' || coalesce(NEW.currency, '') || ' by ' || coalesce(NEW.method, 'unknown method') || ' was recorded',
                jsonb_build_object('amount', NEW.amount, 'currency', NEW.currency, 'method', NEW.method, 'status', NEW.status, 'payment_plan_id', NEW.payment_plan_id),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'UPDATE' AND TG_ARGV[0] = 'status_changed' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'status_changed', 'payment', NEW.id::text,
                'Payment of ' || coalesce(NEW.amount::text, '0') || ' ' || coalesce(NEW.currency, '') || ' ' || coalesce(NEW.status, 'changed'),
                jsonb_build_object('from', OLD.status, 'to', NEW.status, 'amount', NEW.amount, 'currency', NEW.currency, 'external_ref', NEW.external_ref),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'updated', 'payment', NEW.id::text,
                'Payment of ' || coalesce(NEW.amount::text, '0') || ' ' || coalesce(NEW.currency, '') || ' was updated',
                jsonb_build_object('changed_fields', public.changed_fields(to_jsonb(OLD), to_jsonb(NEW)), 'status', NEW.status),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), OLD.customer_id, 'deleted', 'payment', OLD.id::text,
                'Payment of ' || coalesce(OLD.amount::text, '0') || ' ' || coalesce(OLD.currency, '') || ' was deleted',
                jsonb_build_object('amount', OLD.amount, 'currency', OLD.currency, 'status', OLD.status),
                public.request_ip(), public.request_header('user-agent'));
    END IF;
    RETURN NULL;
END;
$$;

-- subscriptions ------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION public.log_subscription_activity()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'created', 'subscription', NEW.id::text,
                'Subscription for ' || coalesce(NEW.amount::text, '0') || ' was submitted',
                jsonb_build_object('amount', NEW.amount, 'status', NEW.status, 'investor_id', NEW.investor_id, 'project_id', NEW.project_id),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'UPDATE' AND TG_ARGV[0] = 'status_changed' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'status_changed', 'subscription', NEW.id::text,
                'Subscription for ' || coalesce(NEW.amount::text, '0') || ' is now ' || coalesce(NEW.status, 'unknown'),
                jsonb_build_object('from', OLD.status, 'to', NEW.status, 'amount', NEW.amount),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'updated', 'subscription', NEW.id::text,
                'Subscription for ' || coalesce(NEW.amount::text, '0') || ' was updated',
                jsonb_build_object('changed_fields', public.changed_fields(to_jsonb(OLD), to_jsonb(NEW))),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), OLD.customer_id, 'deleted', 'subscription', OLD.id::text,
                'Subscription for ' || coalesce(OLD.amount::text, '0') || ' was withdrawn',
                jsonb_build_object('amount', OLD.amount, 'status', OLD.status),
                public.request_ip(), public.request_header('user-agent'));
    END IF;
    RETURN NULL;
END;
$$;

-- distributions ------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION public.log_distribution_activity()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'created', 'distribution', NEW.id::text,
                'Distribution of ' || coalesce(NEW.amount::text, '0') || ' scheduled for ' || coalesce(NEW.distribution_date::text, 'an open date'),
                jsonb_build_object('amount', NEW.amount, 'distribution_date', NEW.distribution_date, 'status', NEW.status, 'project_id', NEW.project_id),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'UPDATE' AND TG_ARGV[0] = 'status_changed' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'status_changed', 'distribution', NEW.id::text,
                'Distribution of ' || coalesce(NEW.amount::text, '0') || ' is now ' || coalesce(NEW.status, 'unknown'),
                jsonb_build_object('from', OLD.status, 'to', NEW.status, 'amount', NEW.amount),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'updated', 'distribution', NEW.id::text,
                'Distribution of ' || coalesce(NEW.amount::text, '0') || ' was updated',
                jsonb_build_object('changed_fields', public.changed_fields(to_jsonb(OLD), to_jsonb(NEW))),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), OLD.customer_id, 'deleted', 'distribution', OLD.id::text,
                'Distribution of ' || coalesce(OLD.amount::text, '0') || ' was cancelled and removed',
                jsonb_build_object('amount', OLD.amount, 'status', OLD.status),
                public.request_ip(), public.request_header('user-agent'));
    END IF;
    RETURN NULL;
END;
$$;

-- templates (one trigger for all three events; columns listed in another order) ---------
CREATE OR REPLACE FUNCTION public.log_template_activity()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO public.activity_logs (action, entity_type, entity_id, user_id, customer_id, metadata, description, ip_address, user_agent)
        VALUES ('created', 'template', NEW.id::text, auth.uid(), NEW.customer_id,
                jsonb_build_object('name', NEW.name, 'kind', NEW.kind, 'version', NEW.version),
                'Template ' || coalesce(NEW.name, NEW.id::text) || ' was created',
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO public.activity_logs (action, entity_type, entity_id, user_id, customer_id, metadata, description, ip_address, user_agent)
        VALUES ('updated', 'template', NEW.id::text, auth.uid(), NEW.customer_id,
                jsonb_build_object('changed_fields', public.changed_fields(to_jsonb(OLD), to_jsonb(NEW)), 'version', NEW.version),
                'Template ' || coalesce(NEW.name, NEW.id::text) || ' was edited',
                public.request_ip(), public.request_header('user-agent'));
    ELSE
        INSERT INTO public.activity_logs (action, entity_type, entity_id, user_id, customer_id, metadata, description, ip_address, user_agent)
        VALUES ('deleted', 'template', OLD.id::text, auth.uid(), OLD.customer_id,
                jsonb_build_object('name', OLD.name, 'kind', OLD.kind),
                'Template ' || coalesce(OLD.name, OLD.id::text) || ' was deleted',
                public.request_ip(), public.request_header('user-agent'));
    END IF;
    RETURN NULL;
END;
$$;

-- configurations (INSERT OR UPDATE in one trigger, DELETE in another) --------------------
CREATE OR REPLACE FUNCTION public.log_configuration_activity()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'created', 'configuration', NEW.id::text,
                'Setting ' || coalesce(NEW.key, NEW.id::text) || ' was added',
                jsonb_build_object('key', NEW.key, 'value', NEW.value),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'updated', 'configuration', NEW.id::text,
                'Setting ' || coalesce(NEW.key, NEW.id::text) || ' was changed',
                jsonb_build_object('key', NEW.key, 'old_value', OLD.value, 'new_value', NEW.value),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), OLD.customer_id, 'deleted', 'configuration', OLD.id::text,
                'Setting ' || coalesce(OLD.key, OLD.id::text) || ' was removed',
                jsonb_build_object('key', OLD.key),
                public.request_ip(), public.request_header('user-agent'));
    END IF;
    RETURN NULL;
END;
$$;

-- documents ----------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION public.log_document_activity()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'created', 'document', NEW.id::text,
                'Document ' || coalesce(NEW.title, NEW.id::text) || ' was uploaded',
                jsonb_build_object('title', NEW.title, 'mime_type', NEW.mime_type, 'size_bytes', NEW.size_bytes, 'status', NEW.status),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'UPDATE' AND TG_ARGV[0] = 'status_changed' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'status_changed', 'document', NEW.id::text,
                'Document ' || coalesce(NEW.title, NEW.id::text) || ' was marked ' || coalesce(NEW.status, 'unknown'),
                jsonb_build_object('from', OLD.status, 'to', NEW.status),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'updated', 'document', NEW.id::text,
                'Document ' || coalesce(NEW.title, NEW.id::text) || ' was updated',
                jsonb_build_object('changed_fields', public.changed_fields(to_jsonb(OLD), to_jsonb(NEW))),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), OLD.customer_id, 'deleted', 'document', OLD.id::text,
                'Document ' || coalesce(OLD.title, OLD.id::text) || ' was deleted',
                jsonb_build_object('title', OLD.title, 'file_path', OLD.file_path),
                public.request_ip(), public.request_header('user-agent'));
    END IF;
    RETURN NULL;
END;
$$;

-- notifications ------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION public.log_notification_activity()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'created', 'notification', NEW.id::text,
                'Notification ' || coalesce(NEW.title, NEW.id::text) || ' was sent',
                jsonb_build_object('kind', NEW.kind, 'title', NEW.title, 'recipient_id', NEW.recipient_id),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'UPDATE' AND TG_ARGV[0] = 'read' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'read', 'notification', NEW.id::text,
                'Notification ' || coalesce(NEW.title, NEW.id::text) || ' was read',
                jsonb_build_object('read_at', NEW.read_at, 'recipient_id', NEW.recipient_id),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'updated', 'notification', NEW.id::text,
                'Notification ' || coalesce(NEW.title, NEW.id::text) || ' was updated',
                jsonb_build_object('changed_fields', public.changed_fields(to_jsonb(OLD), to_jsonb(NEW))),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), OLD.customer_id, 'deleted', 'notification', OLD.id::text,
                'Notification ' || coalesce(OLD.title, OLD.id::text) || ' was dismissed',
                jsonb_build_object('kind', OLD.kind, 'recipient_id', OLD.recipient_id),
                public.request_ip(), public.request_header('user-agent'));
    END IF;
    RETURN NULL;
END;
$$;

-- bulk_operations: INSERT and DELETE are logged once per STATEMENT (transition tables,
-- the row count in metadata; a statement touching no rows logs nothing); UPDATEs per row.
CREATE OR REPLACE FUNCTION public.log_bulk_operation_activity()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public
AS $$
DECLARE
    v_count     bigint;
    v_customers uuid[];
    v_ids       text[];
    v_operation text;
    v_customer  uuid;
    v_entity_id text;
BEGIN
    IF TG_LEVEL = 'STATEMENT' AND TG_OP = 'INSERT' THEN
        SELECT count(*), array_agg(DISTINCT customer_id), (array_agg(id::text ORDER BY id))[1:100], min(operation)
          INTO v_count, v_customers, v_ids, v_operation
          FROM new_rows;
        IF v_count = 0 THEN
            RETURN NULL;
        END IF;
        v_customer := CASE WHEN cardinality(v_customers) = 1 THEN v_customers[1] END;
        v_entity_id := CASE WHEN v_count = 1 THEN v_ids[1] END;
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), v_customer, 'created', 'bulk_operation', v_entity_id,
                'Bulk operation ' || coalesce(v_operation, 'unnamed') || ' queued for ' || v_count || ' rows',
                jsonb_build_object('row_count', v_count, 'operation', v_operation, 'ids', to_jsonb(v_ids), 'statement_level', true),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_LEVEL = 'STATEMENT' AND TG_OP = 'DELETE' THEN
        SELECT count(*), array_agg(DISTINCT customer_id), (array_agg(id::text ORDER BY id))[1:100], min(operation)
          INTO v_count, v_customers, v_ids, v_operation
          FROM old_rows;
        IF v_count = 0 THEN
            RETURN NULL;
        END IF;
        v_customer := CASE WHEN cardinality(v_customers) = 1 THEN v_customers[1] END;
        v_entity_id := CASE WHEN v_count = 1 THEN v_ids[1] END;
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), v_customer, 'deleted', 'bulk_operation', v_entity_id,
                'Bulk operation ' || coalesce(v_operation, 'unnamed') || ' removed for ' || v_count || ' rows',
                jsonb_build_object('row_count', v_count, 'operation', v_operation, 'ids', to_jsonb(v_ids), 'statement_level', true),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'UPDATE' AND TG_ARGV[0] = 'status_changed' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'status_changed', 'bulk_operation', NEW.id::text,
                'Bulk operation ' || coalesce(NEW.operation, 'unnamed') || ' is ' || coalesce(NEW.status, 'unknown'),
                jsonb_build_object('from', OLD.status, 'to', NEW.status, 'processed_items', NEW.processed_items, 'total_items', NEW.total_items),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'updated', 'bulk_operation', NEW.id::text,
                'Bulk operation ' || coalesce(NEW.operation, 'unnamed') || ' progressed to ' || coalesce(NEW.processed_items, 0) || ' of ' || coalesce(NEW.total_items, 0),
                jsonb_build_object('changed_fields', public.changed_fields(to_jsonb(OLD), to_jsonb(NEW)), 'processed_items', NEW.processed_items),
                public.request_ip(), public.request_header('user-agent'));
    END IF;
    RETURN NULL;
END;
$$;

-- emails: log_email_activity for the general events, log_email_delivery_activity for the
-- transition to 'sent' (its own trigger) ----------------------------------------------------
CREATE OR REPLACE FUNCTION public.log_email_activity()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'created', 'email', NEW.id::text,
                'Email ' || coalesce(NEW.subject, 'without subject') || ' was queued for ' || coalesce(NEW.to_address, 'nobody'),
                jsonb_build_object('to', NEW.to_address, 'subject', NEW.subject, 'status', NEW.status, 'template_id', NEW.template_id),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'UPDATE' AND TG_ARGV[0] = 'status_changed' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'status_changed', 'email', NEW.id::text,
                'Email ' || coalesce(NEW.subject, 'without subject') || ' is now ' || coalesce(NEW.status, 'unknown'),
                jsonb_build_object('from', OLD.status, 'to', NEW.status, 'to_address', NEW.to_address),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), NEW.customer_id, 'updated', 'email', NEW.id::text,
                'Email ' || coalesce(NEW.subject, 'without subject') || ' was edited',
                jsonb_build_object('changed_fields', public.changed_fields(to_jsonb(OLD), to_jsonb(NEW))),
                public.request_ip(), public.request_header('user-agent'));
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
        VALUES (auth.uid(), OLD.customer_id, 'deleted', 'email', OLD.id::text,
                'Email ' || coalesce(OLD.subject, 'without subject') || ' was deleted',
                jsonb_build_object('to', OLD.to_address, 'status', OLD.status),
                public.request_ip(), public.request_header('user-agent'));
    END IF;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION public.log_email_delivery_activity()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public
AS $$
BEGIN
    INSERT INTO public.activity_logs (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent)
    VALUES (auth.uid(), NEW.customer_id, 'sent', 'email', NEW.id::text,
            'Email ' || coalesce(NEW.subject, 'without subject') || ' was sent to ' || coalesce(NEW.to_address, 'nobody'),
            jsonb_build_object('to', NEW.to_address, 'subject', NEW.subject, 'sent_at', NEW.sent_at, 'from_status', OLD.status),
            public.request_ip(), public.request_header('user-agent'));
    RETURN NULL;
END;
$$;
