-- Full scope, ONE pass over each table: a FULL JOIN of the mapped source (v_parity_source)
-- and the linked events. From that single join, (1) every difference goes into the session's
-- temp table parity_diff: missing (source without event), orphan (event without source),
-- mismatch (with the differing fields); (2) the row counts per (source entity type, source
-- UTC day, event entity type, event UTC day) go into the temp table parity_groups (a few
-- thousand groups), from which the per entity type / per day count checks are summed. So
-- neither table is read a second time for the counts. The join result is narrow (keys, the
-- two group keys, the differing fields) and kept once (MATERIALIZED) for both consumers.
-- The caller disables sorts for this statement: the planner cannot know there are only a few
-- thousand groups and would otherwise sort two million rows to aggregate them.
-- Read-only on application tables (AccessShare). Idempotent. Placeholders: {state}, {events},
-- {differs} and {differing_fields} (parity.mismatch_exprs, over e and s): the array of differing
-- fields is built only for the rare row that differs.
WITH joined AS MATERIALIZED (
    SELECT s.legacy_id                                 AS s_key,
           e.legacy_activity_log_id                    AS e_key,
           s.entity_type                               AS s_entity_type,
           (s.occurred_at AT TIME ZONE 'UTC')::date    AS s_day,
           e.entity_type                               AS e_entity_type,
           (e.occurred_at AT TIME ZONE 'UTC')::date    AS e_day,
           CASE WHEN s.legacy_id IS NOT NULL AND e.legacy_activity_log_id IS NOT NULL AND {differs}
                THEN {differing_fields} END                         AS fields
    FROM {state}.v_parity_source s
    FULL JOIN (SELECT * FROM {events} WHERE legacy_activity_log_id IS NOT NULL) e
           ON e.legacy_activity_log_id = s.legacy_id
), diff AS (
    INSERT INTO parity_diff (kind, legacy_key, fields)
    SELECT CASE WHEN s_key IS NULL THEN 'orphan' WHEN e_key IS NULL THEN 'missing' ELSE 'mismatch' END,
           coalesce(s_key, e_key), fields
    FROM joined
    WHERE s_key IS NULL OR e_key IS NULL OR fields IS NOT NULL
    RETURNING 1
)
INSERT INTO parity_groups (s_entity_type, s_day, e_entity_type, e_day, source_rows, event_rows)
SELECT s_entity_type, s_day, e_entity_type, e_day, count(s_key), count(e_key)
FROM joined
GROUP BY 1, 2, 3, 4
