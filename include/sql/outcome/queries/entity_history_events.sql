-- Activity query "one entity's history" (latest 200 entries), new form through public.event_feed
-- (index (entity_type, entity_id)). Read-only. Locks: ACCESS SHARE. Placeholders: none.
-- Parameters: entity_type, entity_id.
SELECT coalesce(f.legacy_activity_log_id::text, f.id::text) AS activity_id, f.occurred_at AS sort_at, f.*
FROM public.event_feed(p_page_size => 200, p_entity_type => %(entity_type)s, p_entity_id => %(entity_id)s) f
