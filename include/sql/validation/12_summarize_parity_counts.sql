-- Materialize the per entity type / day counts once (v_parity_counts: one aggregation per
-- table) into the temp table parity_counts for the count checks and the report.
-- Read-only on application tables. Placeholders: {state}.
CREATE TEMP TABLE parity_counts ON COMMIT DROP AS SELECT * FROM {state}.v_parity_counts
