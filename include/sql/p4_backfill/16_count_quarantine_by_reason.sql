-- Unresolved quarantined rows per reason, in reason order.
-- Read-only; idempotent. Locks: ACCESS SHARE on the quarantine table.
-- Placeholders: the quarantine table of the state schema. Parameters: none.
SELECT reason, count(*) AS n
  FROM {quarantine}
 WHERE resolved_at IS NULL
 GROUP BY reason
 ORDER BY reason
