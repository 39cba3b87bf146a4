-- Incremental scope in ONE statement. Source side: the rolling sample (the first %(budget)s
-- source keys at or after %(lo)s and below %(hi)s, in key order: a bounded primary-key range
-- scan) plus the rows created since %(since)s not already sampled (index on the created_at
-- column), each probed in events by its legacy id (one unique-index lookup per row, never a
-- scan of events): no event -> 'missing', mapped fields differ -> 'mismatch' (with the
-- differing fields). Events side: events created since %(since)s plus the events whose legacy
-- id lies in the key range the sample covered (up to its last key when it stopped at its
-- budget); those whose legacy id the source side did not just find are probed in the source
-- by primary key -> 'orphan'. Writes the differences into the session's temp table
-- parity_diff; returns the rows checked on each side. Cost grows with new rows + the budget.
-- Read-only on application tables (AccessShare). Idempotent.
-- Placeholders: {state}, {events}, {src}, {key}, {key_type}, {differs}, {differing_fields}
-- (parity.mismatch_exprs over e and s) and {compared_columns}, the view columns they read: the
-- view's other columns (normalised text, rejection reason) are not computed for every row.
WITH sample AS MATERIALIZED (
    SELECT s.legacy_id, {compared_columns} FROM {state}.v_parity_source s
    WHERE s.legacy_id >= CAST(%(lo)s AS {key_type})
      AND (CAST(%(hi)s AS {key_type}) IS NULL OR s.legacy_id < CAST(%(hi)s AS {key_type}))
    ORDER BY s.legacy_id
    LIMIT %(budget)s
), scoped AS (
    SELECT true AS sampled, x.* FROM sample x
    UNION ALL
    SELECT false AS sampled, s.legacy_id, {compared_columns} FROM {state}.v_parity_source s
    WHERE s.source_created_at >= %(since)s
      AND NOT EXISTS (SELECT 1 FROM sample x WHERE x.legacy_id = s.legacy_id)
), checked AS MATERIALIZED (
    SELECT s.sampled, s.legacy_id, e.legacy_activity_log_id IS NOT NULL AS linked,
           CASE WHEN {differs} THEN {differing_fields} END AS fields
    FROM scoped s
    LEFT JOIN LATERAL (SELECT * FROM {events} e WHERE e.legacy_activity_log_id = s.legacy_id) e ON true
), diff AS (
    INSERT INTO parity_diff (kind, legacy_key, fields)
    SELECT CASE WHEN linked THEN 'mismatch' ELSE 'missing' END, legacy_id, CASE WHEN linked THEN fields END
    FROM checked
    WHERE NOT linked OR fields IS NOT NULL
    RETURNING 1
), sample_end AS (
    -- the sample stopped at its budget: the events side covers the keys it reached
    SELECT CASE WHEN (SELECT count(*) FROM sample) >= %(budget)s
                THEN (SELECT x.legacy_id FROM sample x ORDER BY x.legacy_id DESC LIMIT 1) END AS last_key
), events_scoped AS MATERIALIZED (
    SELECT e.legacy_activity_log_id AS legacy_id FROM {events} e
    WHERE e.created_at >= %(since)s AND e.legacy_activity_log_id IS NOT NULL
    UNION
    SELECT e.legacy_activity_log_id FROM {events} e, sample_end b
    WHERE e.legacy_activity_log_id >= CAST(%(lo)s AS {key_type})
      AND (CAST(%(hi)s AS {key_type}) IS NULL OR e.legacy_activity_log_id < CAST(%(hi)s AS {key_type}))
      AND (b.last_key IS NULL OR e.legacy_activity_log_id <= b.last_key)
), orphans AS (
    INSERT INTO parity_diff (kind, legacy_key, fields)
    SELECT 'orphan', o.legacy_id, NULL FROM events_scoped o
    WHERE NOT EXISTS (SELECT 1 FROM checked c WHERE c.legacy_id = o.legacy_id)
      AND NOT EXISTS (SELECT 1 FROM {src} s WHERE s.{key} = o.legacy_id)
    RETURNING 1
)
SELECT (SELECT count(*) FROM checked)                         AS source_rows,
       (SELECT count(*) FROM checked WHERE sampled)           AS sampled_source_rows,
       (SELECT count(*) FROM events_scoped)                   AS event_rows,
       (SELECT last_key::text FROM sample_end)                AS sample_last_key,
       (SELECT count(*) FROM diff) + (SELECT count(*) FROM orphans) AS differences
