-- The registry in figures, read back after a recount (in the recount's transaction): types,
-- events counted, the recount's snapshot time, types seen with events but never registered.
-- Read-only. Locks: ACCESS SHARE on the registry. Placeholder: "state" the state schema.

SELECT count(*) AS types, coalesce(sum(event_count), 0) AS events, max(counted_at) AS counted_at,
       count(*) FILTER (WHERE registered_at IS NULL AND event_count > 0) AS unregistered
FROM {state}.event_types;
