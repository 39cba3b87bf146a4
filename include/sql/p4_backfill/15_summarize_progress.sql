-- Backfill progress from the chunk ledger: chunk counts by status, rows copied and
-- quarantined, and the rows and seconds of the chunks finished in the recent window (rate).
-- Read-only; idempotent. Locks: ACCESS SHARE on the chunk ledger.
-- Placeholders: the chunk ledger table. Parameters: w (the rate window in seconds).
SELECT count(*)                                            AS chunks,
       count(*) FILTER (WHERE status = 'done')             AS done,
       count(*) FILTER (WHERE status = 'running')          AS running,
       count(*) FILTER (WHERE status = 'pending')          AS pending,
       count(*) FILTER (WHERE status = 'failed')           AS failed,
       coalesce(sum(rows_copied), 0)::bigint               AS rows_copied,
       coalesce(sum(rows_quarantined), 0)::bigint          AS rows_quarantined,
       coalesce(sum(rows_copied + rows_quarantined) FILTER (
           WHERE finished_at > clock_timestamp() - make_interval(secs => %(w)s)), 0)::bigint AS recent_rows,
       extract(epoch FROM max(finished_at) - min(started_at) FILTER (
           WHERE finished_at > clock_timestamp() - make_interval(secs => %(w)s)))::float8 AS recent_s
  FROM {chunks}
