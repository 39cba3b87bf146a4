-- Insert one batch of generated activity history straight into public.activity_logs
-- (bypassing the triggers): %(rows)s rows drawn from the pool of 10_prepare_history_pool.sql
-- (%(choices)s entries), created_at spread uniformly over the last %(span_days)s days.
-- About 3 percent are system actions (actor NULL), 2 percent have empty metadata {}, a quarter have
-- no request (ip_address and user_agent NULL). Every row maps cleanly to an event.
-- Not idempotent: every run adds rows. Locks: ROW EXCLUSIVE on public.activity_logs.
WITH draws AS MATERIALIZED (
    SELECT 1 + floor(random() * %(choices)s::int)::int AS n,
           random() AS r_odd,
           random() AS r_net,
           now() - random() * %(span_days)s::int * interval '1 day' AS created_at
    FROM generate_series(1, %(rows)s::int)
)
INSERT INTO public.activity_logs
    (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent, created_at)
SELECT CASE WHEN d.r_odd < 0.03 THEN NULL ELSE c.actor END,
       c.customer_id,
       c.action,
       c.entity_type,
       c.entity_id,
       CASE WHEN d.r_odd < 0.03 THEN 'System: ' || c.description ELSE c.description END,
       CASE WHEN d.r_odd >= 0.03 AND d.r_odd < 0.05 THEN '{}'::jsonb ELSE c.metadata END,
       CASE WHEN d.r_net < 0.75 THEN ('{203.0.113.7,198.51.100.23,192.0.2.44,203.0.113.250,2001:db8::17,198.51.100.199,192.0.2.1,2001:db8:85a3::8a2e:370:7334}'::inet[])[1 + floor(d.r_net * 10.6)::int] END,
       CASE WHEN d.r_net < 0.75 THEN ('{"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15","Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0 Safari/537.36","Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Mobile/15E148","supabase-js/2.43.4","Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0","okhttp/4.12.0","Mozilla/5.0 (Linux; Android 14) Chrome/125.0 Mobile Safari/537.36","node-fetch/1.0"}'::text[])[1 + floor(d.r_net * 10.6)::int] END,
       d.created_at
FROM draws d
JOIN seed_choices c ON c.n = d.n;
