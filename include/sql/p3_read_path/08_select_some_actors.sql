-- Read parity's sample without auth.users: distinct actors of the legacy activity log, in
-- text order.
-- Read-only; idempotent. Locks: ACCESS SHARE on the source table.
-- Placeholders: the source table, its actor column. Parameters (positional): how many actors.
SELECT DISTINCT {actor}::text AS u
  FROM {source}
 WHERE {actor} IS NOT NULL
 ORDER BY 1
 LIMIT %s
