-- Activity query "one entity's history" (latest 200 entries), legacy form on the log (no entity
-- index: a scan). Read-only. Locks: ACCESS SHARE. Placeholders: {source}.
-- Parameters: entity_type, entity_id.
SELECT l.id::text AS activity_id, l.created_at AS sort_at, l.*
FROM {source} l
WHERE l.entity_type = %(entity_type)s AND l.entity_id = %(entity_id)s
ORDER BY l.created_at DESC, l.id DESC
LIMIT 200
