-- The status page: the backfill's overall rate and when its last chunk finished, from the done
-- chunks, kept after the backfill ends (the live rate covers only the last minutes).
-- Read-only. Idempotent. Placeholder: chunks, the backfill_chunks table (schema-qualified).
-- No bound parameters.
SELECT coalesce(sum(rows_copied + rows_quarantined), 0)::bigint AS rows_done,
       max(finished_at)                                         AS last_finished,
       extract(epoch FROM max(finished_at) - min(started_at))::float8 AS seconds
  FROM {chunks}
 WHERE status = 'done'
