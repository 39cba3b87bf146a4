-- Secondary indexes of the events table, built CONCURRENTLY (writes continue while they build).
-- Idempotent: IF NOT EXISTS; an INVALID index left by a failed concurrent build is dropped
-- and rebuilt by the caller (p1_infrastructure.build_indexes), one statement at a time in
-- autocommit under lock_timeout with retries. Locks: SHARE UPDATE EXCLUSIVE on {events}
-- (does not block reads or writes). Placeholder: {events} qualified target table.
--
-- Hot data: a BRIN index on occurred_at rather than a partial btree "last 30 days". A
-- partial index predicate must be immutable (no now()), so it would need a fixed date and
-- periodic rebuilds, and the planner can only use it for queries whose WHERE clause proves
-- the fixed predicate. Events are appended in time order, so a BRIN of a few pages lets
-- "recent rows" range scans skip everything older, for any window, with no maintenance.
-- Backfilled history lands in its own block ranges with old timestamps and is skipped too.

CREATE INDEX CONCURRENTLY IF NOT EXISTS events_actor_occurred_idx ON {events} (actor_id, occurred_at DESC);
CREATE INDEX CONCURRENTLY IF NOT EXISTS events_customer_occurred_idx ON {events} (customer_id, occurred_at DESC);
CREATE INDEX CONCURRENTLY IF NOT EXISTS events_entity_idx ON {events} (entity_type, entity_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS events_occurred_brin ON {events} USING brin (occurred_at) WITH (pages_per_range = 32);
CREATE INDEX CONCURRENTLY IF NOT EXISTS events_search_idx ON {events} USING gin (
    (to_tsvector('simple'::regconfig, coalesce(description, '')) || jsonb_to_tsvector('simple'::regconfig, payload, '["string"]'::jsonb)));
