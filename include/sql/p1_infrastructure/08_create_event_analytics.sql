-- Analytics materialized views over the events table, each with a unique index so that
-- REFRESH MATERIALIZED VIEW CONCURRENTLY works, and refresh_event_analytics() to refresh them.
-- Idempotent (IF NOT EXISTS / CREATE OR REPLACE). Locks: ACCESS SHARE on {events} while a
-- view is first populated; nothing on application tables. Placeholders: {events}, {fn_schema},
-- {daily} and {actors} qualified view names.
-- The views aggregate across users and have no RLS: only service_role may read them, and only
-- service_role may refresh them (a full refresh is a denial-of-service lever); privileges.py
-- sets both grants in the same transaction.

CREATE MATERIALIZED VIEW IF NOT EXISTS {daily} AS
SELECT date_trunc('day', occurred_at) AS day, category, event_type, source,
       count(*) AS events, count(DISTINCT actor_id) AS actors
FROM {events}
GROUP BY 1, 2, 3, 4;
CREATE UNIQUE INDEX IF NOT EXISTS event_daily_counts_key ON {daily} (day, category, event_type, source);

CREATE MATERIALIZED VIEW IF NOT EXISTS {actors} AS
SELECT actor_id, count(*) AS events, min(occurred_at) AS first_at, max(occurred_at) AS last_at,
       count(*) FILTER (WHERE occurred_at >= date_trunc('day', now()) - interval '30 days') AS events_30d,
       count(DISTINCT category) AS categories
FROM {events}
WHERE actor_id IS NOT NULL
GROUP BY actor_id;
CREATE UNIQUE INDEX IF NOT EXISTS event_actor_activity_key ON {actors} (actor_id);

CREATE OR REPLACE FUNCTION {fn_schema}.refresh_event_analytics()
RETURNS void LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    REFRESH MATERIALIZED VIEW CONCURRENTLY {daily};
    REFRESH MATERIALIZED VIEW CONCURRENTLY {actors};
END
$$;
