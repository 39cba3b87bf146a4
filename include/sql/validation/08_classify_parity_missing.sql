-- Classify the collected "missing" rows: drop those in the quarantine (unresolved: the
-- quarantine accounts for them), and mark as unquarantined_bad_row those the shared mapping
-- rules reject (v_parity_source.rejection_reason), with the reason. Works on the temp table
-- parity_diff only; reads the source by primary key. Idempotent. Placeholders: {state}, {key_type}.
DELETE FROM parity_diff d
USING {state}.quarantine q
WHERE d.kind = 'missing' AND q.resolved_at IS NULL AND q.legacy_id = d.legacy_key::text;

UPDATE parity_diff d
SET kind = 'unquarantined_bad_row', reason = x.reason
FROM (
    SELECT s.legacy_id, s.rejection_reason AS reason
    FROM {state}.v_parity_source s
    WHERE s.legacy_id IN (SELECT legacy_key FROM parity_diff WHERE kind = 'missing')
) x
WHERE d.kind = 'missing' AND d.legacy_key = x.legacy_id AND x.reason IS NOT NULL;
