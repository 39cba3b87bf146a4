-- Rollback of phase 6: every event written after cleanup (no legacy id, created since the
-- cleanup's horizon) gets its legacy row back, and the event is linked to it, so the old
-- system is complete again and nothing is lost when later rollbacks remove events.
-- Idempotent: it only picks events still without a legacy id; re-runs copy nothing twice.
-- OVERRIDING SYSTEM VALUE: the key comes from the key's own sequence (nextval) also when it is
-- an identity GENERATED ALWAYS (which refuses any other value); it changes nothing otherwise.
-- Locks: ROW EXCLUSIVE on both tables, row locks on the picked events (SKIP LOCKED: an event
-- a writer still holds is picked by the next pass). Placeholders: {events}, {source},
-- {key} the legacy key column, {new_key} expression for the new key, {columns} the legacy
-- columns written, {values} the matching expressions over events e. Bound: %(since)s.
WITH todo AS (
    SELECT e.*, {new_key} AS new_key
    FROM {events} AS e
    WHERE e.legacy_activity_log_id IS NULL
      AND e.created_at >= %(since)s
    ORDER BY e.created_at
    FOR UPDATE OF e SKIP LOCKED
), ins AS (
    INSERT INTO {source} ({key}, {columns}) OVERRIDING SYSTEM VALUE
    SELECT e.new_key, {values} FROM todo AS e
    RETURNING 1
)
UPDATE {events} AS ev
SET legacy_activity_log_id = t.new_key
FROM todo AS t
WHERE ev.id = t.id
RETURNING ev.id;
