-- Zero-loss check after the copy: every source row created before the cutoff, and every
-- source row without an event, must be in {events} exactly once or in the quarantine.
-- Counts: rows in scope, copied (one event), missing (neither), in both (event AND
-- unresolved quarantine), duplicated legacy ids in {events} (impossible with the unique
-- constraint, counted anyway). Read-only. Locks: ACCESS SHARE on the tables read.
-- Placeholders: {source}, {key}, {occurred_at}, {events}, {state}. Parameters: cutoff_at (null = all rows).
WITH scope AS (
    SELECT s.{key} AS k,
           EXISTS (SELECT 1 FROM {events} AS e WHERE e.legacy_activity_log_id = s.{key}) AS has_event,
           EXISTS (SELECT 1 FROM {state}.quarantine AS q
                    WHERE q.legacy_id = s.{key}::text AND q.resolved_at IS NULL) AS in_quarantine
      FROM {source} AS s
     WHERE %(cutoff_at)s::timestamptz IS NULL
        OR {occurred_at} < %(cutoff_at)s::timestamptz
        OR {occurred_at} IS NULL
        OR NOT EXISTS (SELECT 1 FROM {events} AS e WHERE e.legacy_activity_log_id = s.{key})
)
SELECT count(*)                                                 AS rows_in_scope,
       count(*) FILTER (WHERE has_event AND NOT in_quarantine)  AS in_events,
       count(*) FILTER (WHERE in_quarantine AND NOT has_event)  AS in_quarantine,
       count(*) FILTER (WHERE NOT has_event AND NOT in_quarantine) AS missing,
       count(*) FILTER (WHERE has_event AND in_quarantine)      AS in_both,
       (SELECT count(*) FROM (SELECT legacy_activity_log_id FROM {events}
                               WHERE legacy_activity_log_id IS NOT NULL
                               GROUP BY legacy_activity_log_id HAVING count(*) > 1) AS d) AS duplicated
  FROM scope;
