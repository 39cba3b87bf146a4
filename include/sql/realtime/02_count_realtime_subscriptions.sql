-- Supabase Realtime's Postgres Changes subscriptions per table, from realtime.subscription
-- (shape of the supabase/realtime migrations: subscription_id uuid per client channel, entity
-- regclass, filters realtime.user_defined_filter array, claims jsonb): subscriptions, distinct
-- clients, those without a filter (they receive every change), and distinct filter sets.
-- Read-only. Locks: ACCESS SHARE on realtime.subscription. No placeholders or parameters.
-- The caller checks that the table exists and handles a missing privilege.

SELECT s.entity::oid AS entity_oid, s.entity::text AS entity, count(*) AS subscriptions,
       count(DISTINCT s.subscription_id) AS clients,
       count(*) FILTER (WHERE cardinality(s.filters) = 0) AS unfiltered,
       count(DISTINCT s.filters::text) FILTER (WHERE cardinality(s.filters) > 0) AS filter_sets
FROM realtime.subscription s
GROUP BY s.entity
ORDER BY count(*) DESC, 2;
