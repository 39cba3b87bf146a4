-- The change rate of events: the inserts of the busiest minute within the window (by
-- created_at, so a backfill's copies count: Realtime streams them too) and of the last
-- minute. Events are append-only, so inserts are the changes Realtime would stream.
-- Read-only. Locks: ACCESS SHARE on events (a scan of the window; the created_at index the
-- nightly validation builds makes it cheap). Placeholder: "events", the qualified events
-- table. Parameter: "seconds", the window.

SELECT coalesce(max(m.n), 0)::bigint AS busiest_minute_changes,
       (SELECT count(*) FROM {events} e2 WHERE e2.created_at >= now() - interval '1 minute')::bigint
           AS last_minute_changes
FROM (SELECT date_trunc('minute', e.created_at) AS minute, count(*) AS n
      FROM {events} e
      WHERE e.created_at >= now() - make_interval(secs => %(seconds)s)
      GROUP BY 1) m;
