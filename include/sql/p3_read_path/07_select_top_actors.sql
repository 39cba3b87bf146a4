-- Read parity's sample: the actors with the most rows in the legacy activity log, most first.
-- Read-only; idempotent. Locks: ACCESS SHARE on the source table.
-- Placeholders: the source table, its actor column. Parameters (positional): how many actors.
SELECT {actor}::text AS u
  FROM {source}
 WHERE {actor} IS NOT NULL
 GROUP BY {actor}
 ORDER BY count(*) DESC, {actor}
 LIMIT %s
