-- Incremental scope: source rows created since %(since)s, or in the sampled key range
-- [%(lo)s, %(hi)s), that have no event (an index probe per row on the unique legacy id).
-- Writes into the temp table parity_diff. Read-only on application tables. Idempotent.
-- Placeholders: {state}, {events}, {key_type}.
INSERT INTO parity_diff (kind, legacy_key, fields)
SELECT 'missing', s.legacy_id, NULL
FROM {state}.v_parity_source s
WHERE (s.source_created_at >= %(since)s
       OR (s.legacy_id >= CAST(%(lo)s AS {key_type}) AND (CAST(%(hi)s AS {key_type}) IS NULL OR s.legacy_id < CAST(%(hi)s AS {key_type}))))
  AND NOT EXISTS (SELECT 1 FROM {events} e WHERE e.legacy_activity_log_id = s.legacy_id)
