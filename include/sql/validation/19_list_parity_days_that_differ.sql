-- Full scope: the UTC days whose source and event counts differ, summed from the temp table
-- parity_counts (12_summarize_parity_counts.sql), oldest first.
-- Read-only (temp table only). Idempotent. No placeholders, no bound parameters.
SELECT day, sum(source_rows)::bigint AS source_rows, sum(event_rows)::bigint AS event_rows
  FROM parity_counts
 GROUP BY day
HAVING sum(source_rows) <> sum(event_rows)
 ORDER BY day
