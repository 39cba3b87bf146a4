-- Activity API "my latest 50 activities" as the signed-in user's request runs it (role
-- authenticated; RLS: own events), new form: the EventFeed's call of public.event_feed.
-- Read-only. Locks: ACCESS SHARE. Placeholders: none. No parameters.
SELECT coalesce(f.legacy_activity_log_id::text, f.id::text) AS activity_id, f.occurred_at AS sort_at, f.*
FROM public.event_feed(p_page_size => 50) f
