-- Report: the latency controller's decisions over the done chunks, per action (faster,
-- slower, hold, pinned, off; a pause is followed by one of these): chunks, the mean app
-- write p95 (ms), the mean and highest ratio to the idle baseline, the mean yield ratio.
-- Read-only; idempotent. Locks: ACCESS SHARE on the chunk ledger.
-- Placeholders: the chunk ledger table. Parameters: none.
SELECT throttle_action AS action, count(*) AS chunks,
       round(avg(app_p95_ms)::numeric, 2) AS mean_p95_ms,
       round(avg(app_latency_ratio)::numeric, 2) AS mean_ratio,
       round(max(app_latency_ratio)::numeric, 2) AS max_ratio,
       round(avg(yield_ratio)::numeric, 2) AS mean_yield
  FROM {chunks}
 WHERE status = 'done' AND throttle_action IS NOT NULL
 GROUP BY throttle_action
 ORDER BY throttle_action
