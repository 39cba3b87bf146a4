-- The event types in events that nobody registered, live: one scan of events anti-joined to
-- the registered types (a hash of a few hundred rows), with count, first and last occurred_at.
-- Read-only. Locks: ACCESS SHARE on events and the registry. Placeholders: "state" the state
-- schema, "events" the qualified events table.

SELECT e.event_type, min(e.category) AS category, count(*) AS event_count,
       min(e.occurred_at) AS first_seen, max(e.occurred_at) AS last_seen,
       array_agg(DISTINCT e.source) AS sources
FROM {events} e
WHERE NOT EXISTS (SELECT 1 FROM {state}.event_types r
                  WHERE r.event_type = e.event_type AND r.registered_at IS NOT NULL)
GROUP BY e.event_type
ORDER BY count(*) DESC, e.event_type;
