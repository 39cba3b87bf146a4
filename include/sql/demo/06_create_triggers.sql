-- Create the demo application's triggers: the 64 legacy LOGGING triggers on the 18 tables
-- and the NON-logging set_updated_at() triggers (users, projects, investors,
-- payment_plans, subscriptions, configurations, bulk_operations).
-- Rule: every single-row INSERT, UPDATE or DELETE on a logged table writes exactly ONE
-- activity_logs row. Where a conditional trigger logs a special update (status_changed,
-- role_changed, read, sent), the general update trigger's WHEN is its complement, and all
-- WHEN conditions are NULL-safe (IS [NOT] DISTINCT FROM) so that exactly one fires.
-- bulk_operations logs INSERT and DELETE once per statement (transition tables), so it
-- has no row-level insert or delete logging trigger.
-- Per table: notifications 4, bulk_operations 4, emails 5, templates 1, configurations 2,
-- documents 4, investments 4, payment_plans 4, payments 4, subscriptions 4,
-- distributions 4, tokens 4, allocations 3, wallets 1, users 5, projects 4, investors 3,
-- kyc_verifications 4 = 64.
-- Idempotent (CREATE OR REPLACE TRIGGER, PostgreSQL 14+). Locks: SHARE ROW EXCLUSIVE on
-- each table, briefly (run at seed time, before the application writes).

-- set_updated_at (non-logging) ---------------------------------------------------------
CREATE OR REPLACE TRIGGER users_set_updated_at BEFORE UPDATE ON public.users
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
CREATE OR REPLACE TRIGGER projects_set_updated_at BEFORE UPDATE ON public.projects
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
CREATE OR REPLACE TRIGGER investors_set_updated_at BEFORE UPDATE ON public.investors
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
CREATE OR REPLACE TRIGGER payment_plans_set_updated_at BEFORE UPDATE ON public.payment_plans
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
CREATE OR REPLACE TRIGGER subscriptions_set_updated_at BEFORE UPDATE ON public.subscriptions
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
CREATE OR REPLACE TRIGGER configurations_set_updated_at BEFORE UPDATE ON public.configurations
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
CREATE OR REPLACE TRIGGER bulk_operations_set_updated_at BEFORE UPDATE ON public.bulk_operations
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

-- Tier 1 -------------------------------------------------------------------------------
-- notifications (4): marking as read is its own action
CREATE OR REPLACE TRIGGER notifications_activity_insert AFTER INSERT ON public.notifications
    FOR EACH ROW EXECUTE FUNCTION public.log_notification_activity();
CREATE OR REPLACE TRIGGER notifications_activity_update AFTER UPDATE ON public.notifications
    FOR EACH ROW WHEN (NOT (OLD.read_at IS NULL AND NEW.read_at IS NOT NULL))
    EXECUTE FUNCTION public.log_notification_activity();
CREATE OR REPLACE TRIGGER notifications_activity_read AFTER UPDATE OF read_at ON public.notifications
    FOR EACH ROW WHEN (OLD.read_at IS NULL AND NEW.read_at IS NOT NULL)
    EXECUTE FUNCTION public.log_notification_activity('read');
CREATE OR REPLACE TRIGGER notifications_activity_delete AFTER DELETE ON public.notifications
    FOR EACH ROW EXECUTE FUNCTION public.log_notification_activity();

-- bulk_operations (4): statement-level insert and delete
CREATE OR REPLACE TRIGGER bulk_operations_activity_insert AFTER INSERT ON public.bulk_operations
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION public.log_bulk_operation_activity();
CREATE OR REPLACE TRIGGER bulk_operations_activity_update AFTER UPDATE ON public.bulk_operations
    FOR EACH ROW WHEN (OLD.status IS NOT DISTINCT FROM NEW.status)
    EXECUTE FUNCTION public.log_bulk_operation_activity();
CREATE OR REPLACE TRIGGER bulk_operations_activity_status_changed AFTER UPDATE OF status ON public.bulk_operations
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION public.log_bulk_operation_activity('status_changed');
CREATE OR REPLACE TRIGGER bulk_operations_activity_delete AFTER DELETE ON public.bulk_operations
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION public.log_bulk_operation_activity();

-- emails (5): 'sent' (its own function) and other status changes are their own actions
CREATE OR REPLACE TRIGGER emails_activity_insert AFTER INSERT ON public.emails
    FOR EACH ROW EXECUTE FUNCTION public.log_email_activity();
CREATE OR REPLACE TRIGGER emails_activity_update AFTER UPDATE ON public.emails
    FOR EACH ROW WHEN (OLD.status IS NOT DISTINCT FROM NEW.status)
    EXECUTE FUNCTION public.log_email_activity();
CREATE OR REPLACE TRIGGER emails_activity_sent AFTER UPDATE OF status ON public.emails
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status AND NEW.status IS NOT DISTINCT FROM 'sent')
    EXECUTE FUNCTION public.log_email_delivery_activity();
CREATE OR REPLACE TRIGGER emails_activity_status_changed AFTER UPDATE OF status ON public.emails
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status AND NEW.status IS DISTINCT FROM 'sent')
    EXECUTE FUNCTION public.log_email_activity('status_changed');
CREATE OR REPLACE TRIGGER emails_activity_delete AFTER DELETE ON public.emails
    FOR EACH ROW EXECUTE FUNCTION public.log_email_activity();

-- Tier 2 -------------------------------------------------------------------------------
-- templates (1): one trigger for all three events
CREATE OR REPLACE TRIGGER templates_activity AFTER INSERT OR UPDATE OR DELETE ON public.templates
    FOR EACH ROW EXECUTE FUNCTION public.log_template_activity();

-- configurations (2)
CREATE OR REPLACE TRIGGER configurations_activity_upsert AFTER INSERT OR UPDATE ON public.configurations
    FOR EACH ROW EXECUTE FUNCTION public.log_configuration_activity();
CREATE OR REPLACE TRIGGER configurations_activity_delete AFTER DELETE ON public.configurations
    FOR EACH ROW EXECUTE FUNCTION public.log_configuration_activity();

-- documents (4)
CREATE OR REPLACE TRIGGER documents_activity_insert AFTER INSERT ON public.documents
    FOR EACH ROW EXECUTE FUNCTION public.log_document_activity();
CREATE OR REPLACE TRIGGER documents_activity_update AFTER UPDATE ON public.documents
    FOR EACH ROW WHEN (OLD.status IS NOT DISTINCT FROM NEW.status)
    EXECUTE FUNCTION public.log_document_activity();
CREATE OR REPLACE TRIGGER documents_activity_status_changed AFTER UPDATE OF status ON public.documents
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION public.log_document_activity('status_changed');
CREATE OR REPLACE TRIGGER documents_activity_delete AFTER DELETE ON public.documents
    FOR EACH ROW EXECUTE FUNCTION public.log_document_activity();

-- Tier 3 -------------------------------------------------------------------------------
-- investments (4)
CREATE OR REPLACE TRIGGER investments_activity_insert AFTER INSERT ON public.investments
    FOR EACH ROW EXECUTE FUNCTION public.log_investment_activity();
CREATE OR REPLACE TRIGGER investments_activity_update AFTER UPDATE ON public.investments
    FOR EACH ROW WHEN (OLD.status IS NOT DISTINCT FROM NEW.status)
    EXECUTE FUNCTION public.log_investment_activity();
CREATE OR REPLACE TRIGGER investments_activity_status_changed AFTER UPDATE OF status ON public.investments
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION public.log_investment_activity('status_changed');
CREATE OR REPLACE TRIGGER investments_activity_delete AFTER DELETE ON public.investments
    FOR EACH ROW EXECUTE FUNCTION public.log_investment_activity();

-- payment_plans (4)
CREATE OR REPLACE TRIGGER payment_plans_activity_insert AFTER INSERT ON public.payment_plans
    FOR EACH ROW EXECUTE FUNCTION public.log_payment_plan_activity();
CREATE OR REPLACE TRIGGER payment_plans_activity_update AFTER UPDATE ON public.payment_plans
    FOR EACH ROW WHEN (OLD.status IS NOT DISTINCT FROM NEW.status)
    EXECUTE FUNCTION public.log_payment_plan_activity();
CREATE OR REPLACE TRIGGER payment_plans_activity_status_changed AFTER UPDATE OF status ON public.payment_plans
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION public.log_payment_plan_activity('status_changed');
CREATE OR REPLACE TRIGGER payment_plans_activity_delete AFTER DELETE ON public.payment_plans
    FOR EACH ROW EXECUTE FUNCTION public.log_payment_plan_activity();

-- payments (4)
CREATE OR REPLACE TRIGGER payments_activity_insert AFTER INSERT ON public.payments
    FOR EACH ROW EXECUTE FUNCTION public.log_payment_activity();
CREATE OR REPLACE TRIGGER payments_activity_update AFTER UPDATE ON public.payments
    FOR EACH ROW WHEN (OLD.status IS NOT DISTINCT FROM NEW.status)
    EXECUTE FUNCTION public.log_payment_activity();
CREATE OR REPLACE TRIGGER payments_activity_status_changed AFTER UPDATE OF status ON public.payments
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION public.log_payment_activity('status_changed');
CREATE OR REPLACE TRIGGER payments_activity_delete AFTER DELETE ON public.payments
    FOR EACH ROW EXECUTE FUNCTION public.log_payment_activity();

-- subscriptions (4)
CREATE OR REPLACE TRIGGER subscriptions_activity_insert AFTER INSERT ON public.subscriptions
    FOR EACH ROW EXECUTE FUNCTION public.log_subscription_activity();
CREATE OR REPLACE TRIGGER subscriptions_activity_update AFTER UPDATE ON public.subscriptions
    FOR EACH ROW WHEN (OLD.status IS NOT DISTINCT FROM NEW.status)
    EXECUTE FUNCTION public.log_subscription_activity();
CREATE OR REPLACE TRIGGER subscriptions_activity_status_changed AFTER UPDATE OF status ON public.subscriptions
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION public.log_subscription_activity('status_changed');
CREATE OR REPLACE TRIGGER subscriptions_activity_delete AFTER DELETE ON public.subscriptions
    FOR EACH ROW EXECUTE FUNCTION public.log_subscription_activity();

-- distributions (4)
CREATE OR REPLACE TRIGGER distributions_activity_insert AFTER INSERT ON public.distributions
    FOR EACH ROW EXECUTE FUNCTION public.log_distribution_activity();
CREATE OR REPLACE TRIGGER distributions_activity_update AFTER UPDATE ON public.distributions
    FOR EACH ROW WHEN (OLD.status IS NOT DISTINCT FROM NEW.status)
    EXECUTE FUNCTION public.log_distribution_activity();
CREATE OR REPLACE TRIGGER distributions_activity_status_changed AFTER UPDATE OF status ON public.distributions
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION public.log_distribution_activity('status_changed');
CREATE OR REPLACE TRIGGER distributions_activity_delete AFTER DELETE ON public.distributions
    FOR EACH ROW EXECUTE FUNCTION public.log_distribution_activity();

-- Tier 4 -------------------------------------------------------------------------------
-- tokens (4)
CREATE OR REPLACE TRIGGER tokens_activity_insert AFTER INSERT ON public.tokens
    FOR EACH ROW EXECUTE FUNCTION public.log_token_activity();
CREATE OR REPLACE TRIGGER tokens_activity_update AFTER UPDATE ON public.tokens
    FOR EACH ROW WHEN (OLD.status IS NOT DISTINCT FROM NEW.status)
    EXECUTE FUNCTION public.log_token_activity();
CREATE OR REPLACE TRIGGER tokens_activity_status_changed AFTER UPDATE OF status ON public.tokens
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION public.log_token_activity('status_changed');
CREATE OR REPLACE TRIGGER tokens_activity_delete AFTER DELETE ON public.tokens
    FOR EACH ROW EXECUTE FUNCTION public.log_token_activity();

-- allocations (3)
CREATE OR REPLACE TRIGGER allocations_activity_insert AFTER INSERT ON public.allocations
    FOR EACH ROW EXECUTE FUNCTION public.log_allocation_activity();
CREATE OR REPLACE TRIGGER allocations_activity_update AFTER UPDATE ON public.allocations
    FOR EACH ROW EXECUTE FUNCTION public.log_allocation_activity();
CREATE OR REPLACE TRIGGER allocations_activity_delete AFTER DELETE ON public.allocations
    FOR EACH ROW EXECUTE FUNCTION public.log_allocation_activity();

-- wallets (1): one trigger for all three events
CREATE OR REPLACE TRIGGER wallets_activity AFTER INSERT OR UPDATE OR DELETE ON public.wallets
    FOR EACH ROW EXECUTE FUNCTION public.log_wallet_activity();

-- Tier 5 -------------------------------------------------------------------------------
-- users (5): a status change wins over a role change made in the same UPDATE
CREATE OR REPLACE TRIGGER users_activity_insert AFTER INSERT ON public.users
    FOR EACH ROW EXECUTE FUNCTION public.log_user_activity();
CREATE OR REPLACE TRIGGER users_activity_update AFTER UPDATE ON public.users
    FOR EACH ROW WHEN (OLD.status IS NOT DISTINCT FROM NEW.status AND OLD.role IS NOT DISTINCT FROM NEW.role)
    EXECUTE FUNCTION public.log_user_activity();
CREATE OR REPLACE TRIGGER users_activity_status_changed AFTER UPDATE OF status ON public.users
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION public.log_user_activity('status_changed');
CREATE OR REPLACE TRIGGER users_activity_role_changed AFTER UPDATE OF role ON public.users
    FOR EACH ROW WHEN (OLD.role IS DISTINCT FROM NEW.role AND OLD.status IS NOT DISTINCT FROM NEW.status)
    EXECUTE FUNCTION public.log_user_activity('role_changed');
CREATE OR REPLACE TRIGGER users_activity_delete AFTER DELETE ON public.users
    FOR EACH ROW EXECUTE FUNCTION public.log_user_activity();

-- projects (4)
CREATE OR REPLACE TRIGGER projects_activity_insert AFTER INSERT ON public.projects
    FOR EACH ROW EXECUTE FUNCTION public.log_project_activity();
CREATE OR REPLACE TRIGGER projects_activity_update AFTER UPDATE ON public.projects
    FOR EACH ROW WHEN (OLD.status IS NOT DISTINCT FROM NEW.status)
    EXECUTE FUNCTION public.log_project_activity();
CREATE OR REPLACE TRIGGER projects_activity_status_changed AFTER UPDATE OF status ON public.projects
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION public.log_project_activity('status_changed');
CREATE OR REPLACE TRIGGER projects_activity_delete AFTER DELETE ON public.projects
    FOR EACH ROW EXECUTE FUNCTION public.log_project_activity();

-- investors (3)
CREATE OR REPLACE TRIGGER investors_activity_insert AFTER INSERT ON public.investors
    FOR EACH ROW EXECUTE FUNCTION public.log_investor_activity();
CREATE OR REPLACE TRIGGER investors_activity_update AFTER UPDATE ON public.investors
    FOR EACH ROW EXECUTE FUNCTION public.log_investor_activity();
CREATE OR REPLACE TRIGGER investors_activity_delete AFTER DELETE ON public.investors
    FOR EACH ROW EXECUTE FUNCTION public.log_investor_activity();

-- kyc_verifications (4)
CREATE OR REPLACE TRIGGER kyc_verifications_activity_insert AFTER INSERT ON public.kyc_verifications
    FOR EACH ROW EXECUTE FUNCTION public.log_kyc_verification_activity();
CREATE OR REPLACE TRIGGER kyc_verifications_activity_update AFTER UPDATE ON public.kyc_verifications
    FOR EACH ROW WHEN (OLD.status IS NOT DISTINCT FROM NEW.status)
    EXECUTE FUNCTION public.log_kyc_verification_activity();
CREATE OR REPLACE TRIGGER kyc_verifications_activity_status_changed AFTER UPDATE OF status ON public.kyc_verifications
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION public.log_kyc_verification_activity('status_changed');
CREATE OR REPLACE TRIGGER kyc_verifications_activity_delete AFTER DELETE ON public.kyc_verifications
    FOR EACH ROW EXECUTE FUNCTION public.log_kyc_verification_activity();
