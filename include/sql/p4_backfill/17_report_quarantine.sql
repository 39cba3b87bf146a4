-- Report: quarantined rows per reason (all of them, resolved or not) with the first and
-- last quarantine time, largest reason first.
-- Read-only; idempotent. Locks: ACCESS SHARE on the quarantine table.
-- Placeholders: the quarantine table of the state schema. Parameters: none.
SELECT reason, count(*) AS rows, min(quarantined_at) AS first, max(quarantined_at) AS last
  FROM {quarantine}
 GROUP BY reason
 ORDER BY rows DESC
