-- Whole-table counts (every scope): source rows, unresolved quarantined rows, linked events.
-- Exact, and as cheap as an exact count gets: count(*) lets the planner read the smallest
-- index (index-only where the visibility map allows; the created_at indexes of the
-- validation are the narrowest), and linked events = all events - events without a legacy
-- id (the NULL end of the unique index), so events are not read through the heap.
-- Read-only. Placeholders: {state}, {src}, {events}.
SELECT (SELECT count(*) FROM {src})                                                 AS source_rows,
       (SELECT count(*) FROM {state}.quarantine WHERE resolved_at IS NULL)          AS quarantined_rows,
       (SELECT count(*) FROM {events})
         - (SELECT count(*) FROM {events} WHERE legacy_activity_log_id IS NULL)     AS event_rows
