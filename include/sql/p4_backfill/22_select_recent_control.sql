-- The latency controller over the recent chunks: the newest decision (p95, ratio, action,
-- yield) and, over the chunks finished in the window, the mean and highest ratio and the
-- count of each action.
-- Read-only; idempotent. Locks: ACCESS SHARE on the chunk ledger.
-- Placeholders: the chunk ledger table. Parameters: w (the window in seconds).
WITH recent AS (
    SELECT * FROM {chunks}
     WHERE status = 'done' AND app_latency_ratio IS NOT NULL
       AND finished_at > clock_timestamp() - make_interval(secs => %(w)s)
), newest AS (
    SELECT app_p95_ms, app_latency_ratio, yield_ratio, throttle_action
      FROM {chunks} WHERE status = 'done' AND throttle_action IS NOT NULL
     ORDER BY finished_at DESC LIMIT 1
)
SELECT n.app_p95_ms, n.app_latency_ratio, n.yield_ratio, n.throttle_action,
       (SELECT avg(app_latency_ratio) FROM recent) AS mean_ratio,
       (SELECT max(app_latency_ratio) FROM recent) AS max_ratio,
       (SELECT jsonb_object_agg(throttle_action, n) FROM (
            SELECT throttle_action, count(*) AS n FROM recent GROUP BY throttle_action) a) AS actions
  FROM newest n
