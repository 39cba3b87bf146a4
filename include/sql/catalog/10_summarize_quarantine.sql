-- The quarantine by reason: rows in total, acknowledged and resolved (the CLI's listing).
-- Read-only; idempotent. Locks: ACCESS SHARE on the state schema's quarantine table.
-- Placeholders: the quarantine table. Parameters: none.
SELECT reason, count(*) AS total, count(*) FILTER (WHERE acknowledged_at IS NOT NULL) AS acknowledged,
       count(*) FILTER (WHERE resolved_at IS NOT NULL) AS resolved
  FROM {quarantine} GROUP BY reason ORDER BY total DESC
