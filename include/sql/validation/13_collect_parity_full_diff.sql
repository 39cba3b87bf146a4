-- Full scope, second pass, run only when 02_collect_parity_full.sql counted rows that differ:
-- the same FULL JOIN, every difference into the session's temp table parity_diff: missing
-- (source without event; 08 then drops the quarantined ones and classifies the rest), orphan
-- (event without source), mismatch (with the differing fields).
-- Read-only on application tables (AccessShare). Idempotent. Placeholders: {state}, {events},
-- {differs} and {differing_fields} (parity.mismatch_exprs, over e and s): the array of
-- differing fields is built only for the rows that differ.
INSERT INTO parity_diff (kind, legacy_key, fields)
SELECT CASE WHEN s.legacy_id IS NULL THEN 'orphan' WHEN e.legacy_activity_log_id IS NULL THEN 'missing'
            ELSE 'mismatch' END,
       coalesce(s.legacy_id, e.legacy_activity_log_id),
       CASE WHEN s.legacy_id IS NOT NULL AND e.legacy_activity_log_id IS NOT NULL THEN {differing_fields} END
FROM {state}.v_parity_source s
FULL JOIN (SELECT * FROM {events} WHERE legacy_activity_log_id IS NOT NULL) e
       ON e.legacy_activity_log_id = s.legacy_id
WHERE s.legacy_id IS NULL OR e.legacy_activity_log_id IS NULL OR {differs}
