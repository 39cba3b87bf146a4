-- Mark a chunk done with its counts and the latency controller's decision taken before it,
-- in the same transaction as its copy.
-- Idempotent (sets fixed values). Locks: the chunk row (already locked by this transaction).
-- Placeholders: the state schema. Parameters: chunk_id, rows_copied, rows_quarantined, hi, and the
-- controller's app_p95_ms, app_latency_ratio, yield_ratio and throttle_action (null when off).
UPDATE {state}.backfill_chunks
   SET status = 'done', rows_copied = %(rows_copied)s, rows_quarantined = %(rows_quarantined)s,
       hi = %(hi)s, finished_at = clock_timestamp(), last_error = NULL,
       app_p95_ms = %(app_p95_ms)s, app_latency_ratio = %(app_latency_ratio)s,
       yield_ratio = %(yield_ratio)s, throttle_action = %(throttle_action)s
 WHERE chunk_id = %(chunk_id)s;
