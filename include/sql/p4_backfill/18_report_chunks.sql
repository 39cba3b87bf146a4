-- Report: chunk statistics per status: chunks, rows copied and quarantined, attempts, and
-- the mean and longest chunk duration in seconds.
-- Read-only; idempotent. Locks: ACCESS SHARE on the chunk ledger.
-- Placeholders: the chunk ledger table. Parameters: none.
SELECT status, count(*) AS chunks, sum(rows_copied) AS rows_copied, sum(rows_quarantined) AS rows_quarantined,
       sum(attempts) AS attempts,
       round(avg(extract(epoch FROM finished_at - started_at))::numeric, 3) AS avg_s,
       round(max(extract(epoch FROM finished_at - started_at))::numeric, 3) AS max_s
  FROM {chunks}
 GROUP BY status
 ORDER BY status
