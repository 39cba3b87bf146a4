-- Full scope, ONE pass over each table: a FULL JOIN of the mapped source (v_parity_source)
-- and the linked events, aggregated straight into the session's temp table parity_groups:
-- per (source entity type, source UTC day, event entity type, event UTC day), a few
-- thousand groups, the source rows, the events, and the rows that differ in a way the
-- quarantine does not explain (an event without a source row, a source row without an event
-- that is not quarantined, a linked pair whose mapped fields differ). The per entity type /
-- per day count checks are summed from these groups, and when no row differs (a clean
-- migration, the common case) the run is done: nothing is materialised, no table is read
-- twice. Only when some row differs does the caller list them (13_collect_parity_full_diff.sql).
-- The caller disables sorts for this statement: the planner cannot know there are only a few
-- thousand groups and would otherwise sort two million rows to aggregate them.
-- Read-only on application tables (AccessShare). Idempotent. Placeholders: {state}, {events},
-- {differs} (parity.mismatch_exprs, over e and s).
INSERT INTO parity_groups (s_entity_type, s_day, e_entity_type, e_day, source_rows, event_rows, differing_rows)
SELECT s.entity_type,
       (s.occurred_at AT TIME ZONE 'UTC')::date,
       e.entity_type,
       (e.occurred_at AT TIME ZONE 'UTC')::date,
       count(s.legacy_id),
       count(e.legacy_activity_log_id),
       count(*) FILTER (WHERE s.legacy_id IS NULL
                           OR (e.legacy_activity_log_id IS NULL
                               AND NOT EXISTS (SELECT 1 FROM {state}.quarantine q
                                               WHERE q.legacy_id = s.legacy_id::text AND q.resolved_at IS NULL))
                           OR (e.legacy_activity_log_id IS NOT NULL AND {differs}))
FROM {state}.v_parity_source s
FULL JOIN (SELECT * FROM {events} WHERE legacy_activity_log_id IS NOT NULL) e
       ON e.legacy_activity_log_id = s.legacy_id
GROUP BY 1, 2, 3, 4
