-- Recount the registry from events, set-based, in one statement: per event type the number
-- of events, first and last occurred_at, exact as of this statement's snapshot (counted_at);
-- a type seen for the first time gets a row without registration (it is then "unregistered");
-- a type with no event left gets count 0. Label templates are refreshed from the config.
-- This replaces any per-event bookkeeping: publish_activity never touches the registry, so
-- no writer waits on a hot registry row.
-- Idempotent (the same data gives the same rows). Locks: ACCESS SHARE on events (one
-- sequential scan with a hash aggregate: about a second per few million events); row locks on
-- the registry rows. Placeholders: "state" the state schema, "events" the qualified events
-- table. Parameter: "labels" (jsonb: event type to label template).

WITH seen AS (
    SELECT e.event_type, min(e.category) AS category, count(*) AS n,
           min(e.occurred_at) AS first_seen, max(e.occurred_at) AS last_seen
    FROM {events} e
    GROUP BY e.event_type
), counted AS (
    INSERT INTO {state}.event_types AS r (event_type, category, label_template, first_seen, last_seen,
                                          event_count, counted_at)
    SELECT s.event_type, s.category, %(labels)s::jsonb ->> s.event_type, s.first_seen, s.last_seen, s.n, now()
    FROM seen s
    ON CONFLICT (event_type) DO UPDATE
        SET category = coalesce(r.category, EXCLUDED.category), label_template = EXCLUDED.label_template,
            first_seen = EXCLUDED.first_seen, last_seen = EXCLUDED.last_seen,
            event_count = EXCLUDED.event_count, counted_at = EXCLUDED.counted_at
    RETURNING r.event_type
)
UPDATE {state}.event_types r
SET event_count = 0, first_seen = NULL, last_seen = NULL, counted_at = now(),
    label_template = %(labels)s::jsonb ->> r.event_type
WHERE NOT EXISTS (SELECT 1 FROM seen s WHERE s.event_type = r.event_type);
