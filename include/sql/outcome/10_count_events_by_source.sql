-- Events per source (trigger: dual write and legacy triggers; service: the application's own
-- publish calls; backfill: history copied by phase 4). Read-only. Locks: none.
-- Placeholders: {events} qualified events table.
SELECT source, count(*) AS n FROM {events} GROUP BY source ORDER BY source
