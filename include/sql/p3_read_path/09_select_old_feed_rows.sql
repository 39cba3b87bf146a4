-- Read parity: the newest rows of the legacy activity log as the application's old query
-- returns them to the current user (run as that user: the table's own RLS decides what is
-- visible, no filter of ours), each flagged pending when it predates the dual-write cutoff
-- and has no event yet (the backfill's job).
-- Read-only; idempotent. Locks: ACCESS SHARE on the source table and the events table.
-- Placeholders: the source table; its key, timestamp, actor, entity type and action
-- columns; the entity id expression (a column of the source row, or NULL); the events table.
-- Parameters: cutoff (timestamptz or null), limit.
SELECT a.{key}::text AS legacy_id, a.{ts} AS ts, a.{actor}::text AS actor,
       a.{etype}::text AS entity_type, a.{action}::text AS action, {ent_id}::text AS entity_id,
       (%(cutoff)s::timestamptz IS NOT NULL AND a.{ts} < %(cutoff)s AND NOT EXISTS
        (SELECT 1 FROM {events} e WHERE e.legacy_activity_log_id = a.{key})) AS pending
FROM {source} a
ORDER BY a.{ts} DESC, a.{key} DESC
LIMIT %(limit)s
