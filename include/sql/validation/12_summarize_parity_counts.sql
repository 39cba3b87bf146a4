-- Per entity type and UTC day, the counts of the full scope: sums over the groups the one-pass
-- collection (02_collect_parity_full.sql) left in the temp table parity_groups (no table is
-- read again), minus the unresolved quarantine (a primary-key probe of the source per
-- quarantined row). Same columns as the live view v_parity_counts ('' = null entity type,
-- 'infinity' = null day), into the temp table parity_counts.
-- Read-only on application tables. Placeholders: {state}, {key_type}.
CREATE TEMP TABLE parity_counts ON COMMIT DROP AS
WITH src AS (
    SELECT coalesce(s_entity_type, '') AS entity_type, coalesce(s_day, 'infinity'::date) AS day,
           sum(source_rows) AS n
    FROM parity_groups WHERE source_rows > 0 GROUP BY 1, 2
), evt AS (
    SELECT coalesce(e_entity_type, '') AS entity_type, coalesce(e_day, 'infinity'::date) AS day,
           sum(event_rows) AS n
    FROM parity_groups WHERE event_rows > 0 GROUP BY 1, 2
), qua AS (
    SELECT coalesce(s.entity_type, '') AS entity_type,
           coalesce((s.occurred_at AT TIME ZONE 'UTC')::date, 'infinity'::date) AS day, count(*) AS n
    FROM {state}.quarantine q JOIN {state}.v_parity_source s ON s.legacy_id = q.legacy_id::{key_type}
    WHERE q.resolved_at IS NULL GROUP BY 1, 2
)
SELECT coalesce(a.entity_type, e.entity_type)        AS entity_type,
       coalesce(a.day, e.day)                        AS day,
       (coalesce(a.n, 0) - coalesce(q.n, 0))::bigint AS source_rows,
       coalesce(q.n, 0)::bigint                      AS quarantined_rows,
       coalesce(e.n, 0)::bigint                      AS event_rows
FROM src a
LEFT JOIN qua q ON q.entity_type = a.entity_type AND q.day = a.day
FULL JOIN evt e ON e.entity_type = a.entity_type AND e.day = a.day
