-- Events the application published itself (source 'service') per entity type, for the given
-- entity types, created in a half-open time window.
-- Read-only; idempotent. Locks: ACCESS SHARE on the events table.
-- Placeholders: the events table. Parameters (positional): entity types (text array),
-- window start, window end (timestamptz text).
SELECT entity_type, count(*) AS n FROM {events} WHERE source = 'service'
   AND entity_type = ANY(%s) AND created_at >= %s::timestamptz
   AND created_at < %s::timestamptz GROUP BY 1
