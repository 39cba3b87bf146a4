-- Prepare, in session temp tables, the pool the history generator draws from: for every
-- application row (and every user, as the pseudo-entity 'auth' for sign-ins) a handful of
-- ready-made log entries (action, actor, description, metadata) shaped like the rows the
-- triggers write for that table. Drawing from the pool keeps the bulk insert (11_...) to
-- a join and a few CASEs per row, which is what makes it fast.
-- Idempotent within a session (DROP ... IF EXISTS first). Locks: ACCESS SHARE on the
-- application tables it reads.

DROP TABLE IF EXISTS pg_temp.seed_shapes, pg_temp.seed_entities, pg_temp.seed_customer_actors, pg_temp.seed_choices;

-- Actions an entity type logs (repeats weight them), its statuses and its editable fields.
CREATE TEMP TABLE seed_shapes (entity_type text PRIMARY KEY, noun text, actions text[], statuses text[], fields text[]);
INSERT INTO seed_shapes VALUES
    ('user',             'User',             '{created,updated,updated,updated,status_changed,role_changed,deleted}', '{invited,active,suspended,deactivated}', '{full_name,email,last_sign_in_at}'),
    ('project',          'Project',          '{created,updated,updated,status_changed,status_changed,deleted}',       '{draft,active,funded,closed}',            '{name,description,target_amount,starts_on}'),
    ('investor',         'Investor',         '{created,updated,updated,updated,deleted}',                             NULL,                                      '{name,email,country,accredited}'),
    ('kyc_verification', 'KYC verification', '{created,updated,status_changed,status_changed,deleted}',                '{pending,approved,rejected,expired}',     '{provider,reviewed_at}'),
    ('token',            'Token',            '{created,updated,status_changed,status_changed,deleted}',                '{draft,deployed,paused,retired}',         '{name,total_supply,contract_address}'),
    ('allocation',       'Allocation of',    '{created,updated,updated,deleted}',                                     NULL,                                      '{amount,status}'),
    ('wallet',           'Wallet',           '{created,updated,deleted}',                                             NULL,                                      '{is_primary,network}'),
    ('investment',       'Investment of',    '{created,updated,status_changed,status_changed,deleted}',                '{pending,committed,funded,cancelled}',    '{amount,currency}'),
    ('payment_plan',     'Payment plan',     '{created,updated,status_changed,status_changed,deleted}',                '{draft,active,completed,defaulted}',      '{name,installments,frequency,total_amount}'),
    ('payment',          'Payment of',       '{created,created,updated,status_changed,status_changed,status_changed,deleted}', '{pending,succeeded,failed,refunded}', '{external_ref,paid_at,method}'),
    ('subscription',     'Subscription for', '{created,updated,status_changed,status_changed,deleted}',                '{pending,signed,approved,rejected}',      '{amount,signed_at}'),
    ('distribution',     'Distribution of',  '{created,updated,status_changed,status_changed,deleted}',                '{scheduled,processing,paid,cancelled}',   '{amount,distribution_date}'),
    ('template',         'Template',         '{created,updated,updated,deleted}',                                     NULL,                                      '{body,name,version}'),
    ('configuration',    'Setting',          '{created,updated,updated,updated,deleted}',                             NULL,                                      '{value,description}'),
    ('document',         'Document',         '{created,updated,status_changed,status_changed,deleted}',                '{uploaded,reviewed,signed,archived}',     '{title,file_path}'),
    ('notification',     'Notification',     '{created,created,read,read,updated,deleted}',                           NULL,                                      '{title,body,kind}'),
    ('bulk_operation',   'Bulk operation',   '{created,updated,status_changed,status_changed,deleted}',                '{queued,running,completed,failed}',       '{processed_items}'),
    ('email',            'Email',            '{created,sent,sent,sent,status_changed,updated,deleted}',               '{queued,sent,bounced,failed}',            '{subject,body}'),
    ('auth',             'User',             '{login,login,login,logout,password_reset}',                             NULL,                                      NULL);

-- Every application row as an entity: its label and its "created" metadata, the same
-- object its insert trigger builds.
CREATE TEMP TABLE seed_entities AS
SELECT 'user'::text AS entity_type, id::text AS entity_id, customer_id, coalesce(full_name, email) AS label,
       jsonb_build_object('email', email, 'role', role, 'status', status) AS snapshot, NULL::jsonb AS extra
  FROM public.users
UNION ALL
SELECT 'auth', user_id::text, customer_id, coalesce(email, full_name), NULL, NULL
  FROM public.users WHERE user_id IS NOT NULL
UNION ALL
SELECT 'project', id::text, customer_id, name,
       jsonb_build_object('name', name, 'status', status, 'target_amount', target_amount, 'currency', currency), NULL
  FROM public.projects
UNION ALL
SELECT 'investor', id::text, customer_id, name,
       jsonb_build_object('name', name, 'investor_type', investor_type, 'country', country, 'accredited', accredited), NULL
  FROM public.investors
UNION ALL
SELECT 'kyc_verification', id::text, customer_id, 'with ' || provider,
       jsonb_build_object('investor_id', investor_id, 'provider', provider, 'status', status), NULL
  FROM public.kyc_verifications
UNION ALL
SELECT 'token', id::text, customer_id, symbol,
       jsonb_build_object('symbol', symbol, 'name', name, 'total_supply', total_supply, 'status', status), NULL
  FROM public.tokens
UNION ALL
SELECT 'allocation', id::text, customer_id, amount || ' tokens',
       jsonb_build_object('token_id', token_id, 'investor_id', investor_id, 'amount', amount, 'status', status), NULL
  FROM public.allocations
UNION ALL
SELECT 'wallet', id::text, customer_id, address,
       jsonb_build_object('address', address, 'network', network, 'is_primary', is_primary), NULL
  FROM public.wallets
UNION ALL
SELECT 'investment', id::text, customer_id, amount || ' ' || currency,
       jsonb_build_object('amount', amount, 'currency', currency, 'status', status, 'project_id', project_id, 'investor_id', investor_id), NULL
  FROM public.investments
UNION ALL
SELECT 'payment_plan', id::text, customer_id, name,
       jsonb_build_object('name', name, 'total_amount', total_amount, 'installments', installments, 'frequency', frequency, 'status', status), NULL
  FROM public.payment_plans
UNION ALL
SELECT 'payment', id::text, customer_id, amount || ' ' || currency,
       jsonb_build_object('amount', amount, 'currency', currency, 'method', method, 'status', status, 'payment_plan_id', payment_plan_id), NULL
  FROM public.payments
UNION ALL
SELECT 'subscription', id::text, customer_id, amount::text,
       jsonb_build_object('amount', amount, 'status', status, 'investor_id', investor_id, 'project_id', project_id), NULL
  FROM public.subscriptions
UNION ALL
SELECT 'distribution', id::text, customer_id, amount::text,
       jsonb_build_object('amount', amount, 'distribution_date', distribution_date, 'status', status, 'project_id', project_id), NULL
  FROM public.distributions
UNION ALL
SELECT 'template', id::text, customer_id, name,
       jsonb_build_object('name', name, 'kind', kind, 'version', version), NULL
  FROM public.templates
UNION ALL
SELECT 'configuration', id::text, customer_id, key,
       jsonb_build_object('key', key, 'value', value), NULL
  FROM public.configurations
UNION ALL
SELECT 'document', id::text, customer_id, title,
       jsonb_build_object('title', title, 'mime_type', mime_type, 'size_bytes', size_bytes, 'status', status), NULL
  FROM public.documents
UNION ALL
SELECT 'notification', id::text, customer_id, title,
       jsonb_build_object('kind', kind, 'title', title, 'recipient_id', recipient_id), jsonb_build_object('recipient_id', recipient_id)
  FROM public.notifications
UNION ALL
SELECT 'bulk_operation', id::text, customer_id, operation,
       jsonb_build_object('row_count', 1, 'operation', operation, 'ids', jsonb_build_array(id::text), 'statement_level', true), NULL
  FROM public.bulk_operations
UNION ALL
SELECT 'email', id::text, customer_id, subject,
       jsonb_build_object('to', to_address, 'subject', subject, 'status', status, 'template_id', template_id),
       jsonb_build_object('to', to_address, 'subject', subject)
  FROM public.emails;

-- The people who act for each customer.
CREATE TEMP TABLE seed_customer_actors AS
SELECT customer_id, array_agg(user_id ORDER BY user_id) AS actors
FROM public.users
WHERE user_id IS NOT NULL AND customer_id IS NOT NULL
GROUP BY customer_id;

-- Six ready-made log entries per entity, numbered 1..n for a random draw.
CREATE TEMP TABLE seed_choices AS
WITH draws AS MATERIALIZED (
    SELECT e.*, s.noun, s.actions, s.statuses, s.fields, ca.actors,
           random() AS r1, random() AS r2, random() AS r3, random() AS r4
    FROM seed_entities e
    JOIN seed_shapes s USING (entity_type)
    LEFT JOIN seed_customer_actors ca USING (customer_id)
    CROSS JOIN generate_series(1, 6) AS k
), actions AS (
    SELECT d.*,
           d.actions[1 + floor(d.r1 * cardinality(d.actions))::int] AS action,
           d.statuses[1 + floor(d.r2 * coalesce(cardinality(d.statuses), 0))::int] AS status_from,
           d.statuses[1 + (floor(d.r2 * coalesce(cardinality(d.statuses), 0))::int + 1
                           + floor(d.r3 * greatest(coalesce(cardinality(d.statuses), 1) - 1, 1))::int)
                          % greatest(coalesce(cardinality(d.statuses), 1), 1)] AS status_to,
           d.fields[1 + floor(d.r3 * coalesce(cardinality(d.fields), 0))::int] AS field
    FROM draws d
)
SELECT (row_number() OVER ())::int AS n,
       a.entity_type,
       CASE WHEN a.action = 'deleted' THEN gen_random_uuid()::text ELSE a.entity_id END AS entity_id,
       a.customer_id,
       CASE WHEN a.entity_type = 'auth' THEN a.entity_id::uuid
            ELSE a.actors[1 + floor(a.r4 * cardinality(a.actors))::int] END AS actor,
       a.action,
       CASE a.action
           WHEN 'created'        THEN a.noun || ' ' || coalesce(a.label, a.entity_id) || ' was created'
           WHEN 'updated'        THEN a.noun || ' ' || coalesce(a.label, a.entity_id) || ' was updated'
           WHEN 'deleted'        THEN a.noun || ' ' || coalesce(a.label, a.entity_id) || ' was deleted'
           WHEN 'status_changed' THEN a.noun || ' ' || coalesce(a.label, a.entity_id) || ' is now ' || a.status_to
           WHEN 'role_changed'   THEN a.noun || ' ' || coalesce(a.label, a.entity_id) || ' became admin'
           WHEN 'read'           THEN a.noun || ' ' || coalesce(a.label, a.entity_id) || ' was read'
           WHEN 'sent'           THEN a.noun || ' ' || coalesce(a.label, a.entity_id) || ' was sent to ' || coalesce(a.extra ->> 'to', 'nobody')
           WHEN 'login'          THEN a.noun || ' ' || coalesce(a.label, a.entity_id) || ' signed in'
           WHEN 'logout'         THEN a.noun || ' ' || coalesce(a.label, a.entity_id) || ' signed out'
           ELSE                       a.noun || ' ' || coalesce(a.label, a.entity_id) || ' requested a password reset'
       END AS description,
       CASE a.action
           WHEN 'created'        THEN a.snapshot
           WHEN 'deleted'        THEN a.snapshot
           WHEN 'updated'        THEN jsonb_build_object('changed_fields', jsonb_build_array(a.field))
           WHEN 'status_changed' THEN jsonb_build_object('from', a.status_from, 'to', a.status_to)
           WHEN 'role_changed'   THEN jsonb_build_object('from', 'member', 'to', 'admin')
           WHEN 'read'           THEN a.extra || jsonb_build_object('read_at', now() - a.r4 * interval '700 days')
           WHEN 'sent'           THEN a.extra || jsonb_build_object('sent_at', now() - a.r4 * interval '700 days', 'from_status', 'queued')
           ELSE jsonb_build_object('method', (ARRAY['password', 'magic_link', 'google', 'github'])[1 + floor(a.r4 * 4)::int])
       END AS metadata
FROM actions a;

ALTER TABLE seed_choices ADD PRIMARY KEY (n);
ANALYZE seed_choices;
