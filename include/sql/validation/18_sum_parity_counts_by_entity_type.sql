-- Full scope: source, quarantined and event rows per entity type, summed from the temp table
-- parity_counts (12_summarize_parity_counts.sql); null entity type first.
-- Read-only (temp table only). Idempotent. No placeholders, no bound parameters.
SELECT nullif(entity_type, '') AS entity_type,
       sum(source_rows)::bigint AS source_rows,
       sum(quarantined_rows)::bigint AS quarantined_rows,
       sum(event_rows)::bigint AS event_rows
  FROM parity_counts
 GROUP BY 1
 ORDER BY 1 NULLS FIRST
