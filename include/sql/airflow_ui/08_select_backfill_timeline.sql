-- The status page's backfill plot: the done chunks in %(buckets)s equal slices of the copy's
-- span, each with the rows copied (or quarantined) and the highest application write p95 the
-- latency controller measured before a chunk of the slice (null when the controller was off).
-- Read-only. Idempotent. Placeholder: chunks, the backfill_chunks table (schema-qualified).
-- Bound parameter: buckets (int, at least 1).
WITH done AS (
    SELECT finished_at, rows_copied + rows_quarantined AS rows_done, app_p95_ms
      FROM {chunks}
     WHERE status = 'done' AND finished_at IS NOT NULL
), span AS (
    SELECT min(finished_at) AS t0,
           greatest(extract(epoch FROM max(finished_at) - min(finished_at))::float8, 1.0) AS seconds
      FROM done
)
SELECT least(width_bucket(extract(epoch FROM d.finished_at - s.t0)::float8, 0, s.seconds,
                          %(buckets)s), %(buckets)s) AS bucket,
       s.seconds / %(buckets)s AS bucket_seconds,
       sum(d.rows_done)::bigint AS rows_done,
       max(d.app_p95_ms)        AS app_p95_ms
  FROM done d CROSS JOIN span s
 GROUP BY 1, 2
 ORDER BY 1
