-- Incremental scope: linked pairs whose mapped fields differ, for source rows created since
-- %(since)s or in the sampled key range [%(lo)s, %(hi)s). The predicate is pushed into the
-- source scan of v_parity_mismatch (index on the created_at column / primary key).
-- Writes into the temp table parity_diff. Read-only. Idempotent. Placeholders: {state}, {key_type}.
INSERT INTO parity_diff (kind, legacy_key, fields)
SELECT 'mismatch', m.legacy_id, m.fields
FROM {state}.v_parity_mismatch m
WHERE m.source_created_at >= %(since)s
   OR (m.legacy_id >= CAST(%(lo)s AS {key_type}) AND (CAST(%(hi)s AS {key_type}) IS NULL OR m.legacy_id < CAST(%(hi)s AS {key_type})))
