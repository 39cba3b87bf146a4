-- Activity query "a customer's activity of the last 30 days, paginated" (page 3), new form: the
-- keyset feed public.event_feed with the cursor the application holds from page 2
-- (customer_30d_page3_events_cursor.sql, not timed), index (customer_id, occurred_at DESC).
-- Read-only. Locks: ACCESS SHARE. Placeholders: none. Parameters: customer_id, before_occurred_at,
-- before_id.
SELECT coalesce(f.legacy_activity_log_id::text, f.id::text) AS activity_id, f.occurred_at AS sort_at, f.*
FROM public.event_feed(p_before_occurred_at => %(before_occurred_at)s, p_before_id => %(before_id)s,
                       p_page_size => 50, p_customer_id => %(customer_id)s) f
WHERE f.occurred_at >= now() - interval '30 days'
