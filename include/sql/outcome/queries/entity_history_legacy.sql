-- Activity query "one entity's history" (latest 200 entries), legacy form on the log (no entity
-- index: a scan). Read-only. Locks: ACCESS SHARE. Placeholders: {source} and the columns the config maps (c_ + event field).
-- Parameters: entity_type, entity_id.
SELECT l.{c_key}::text AS activity_id, l.{c_occurred_at} AS sort_at, l.*
FROM {source} l
WHERE l.{c_entity_type} = %(entity_type)s AND l.{c_entity_id} = %(entity_id)s
ORDER BY l.{c_occurred_at} DESC, l.{c_key} DESC
LIMIT 200
