-- Count the source rows the backfill still has to handle: no event yet and not quarantined.
-- Read-only. Locks: ACCESS SHARE on the source, {events} and {state}.quarantine.
-- Placeholders: {source}, {key}, {events}, {state}.
SELECT count(*)
  FROM {source} AS s
 WHERE NOT EXISTS (SELECT 1 FROM {events} AS e WHERE e.legacy_activity_log_id = s.{key})
   AND NOT EXISTS (SELECT 1 FROM {state}.quarantine AS q WHERE q.legacy_id = s.{key}::text);
