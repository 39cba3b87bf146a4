-- One event type's live figures in events: count, first and last occurred_at (a scan of events:
-- no index leads with event_type). Read-only. Locks: ACCESS SHARE on events.
-- Placeholder: "events" the qualified events table. Parameter: "event_type".

SELECT count(*) AS live_count, min(e.occurred_at) AS live_first_seen, max(e.occurred_at) AS live_last_seen
FROM {events} e
WHERE e.event_type = %(event_type)s;
