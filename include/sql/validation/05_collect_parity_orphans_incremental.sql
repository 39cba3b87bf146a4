-- Incremental scope: events created since %(since)s, or whose legacy id is in the sampled
-- key range [%(lo)s, %(hi)s), that claim a legacy id missing from the source (a primary-key
-- probe per event). Writes into the temp table parity_diff. Read-only. Idempotent.
-- Placeholders: {state}, {key_type}.
INSERT INTO parity_diff (kind, legacy_key, fields)
SELECT 'orphan', o.legacy_id, NULL
FROM {state}.v_parity_orphans o
WHERE o.created_at >= %(since)s
   OR (o.legacy_id >= CAST(%(lo)s AS {key_type}) AND (CAST(%(hi)s AS {key_type}) IS NULL OR o.legacy_id < CAST(%(hi)s AS {key_type})))
