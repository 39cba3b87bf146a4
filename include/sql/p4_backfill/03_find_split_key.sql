-- Find where to cut a chunk so that its first part holds at most `limit_rows` source rows:
-- the (limit_rows + 1)-th key of the range in key order, by a keyset scan of the source's
-- primary key (ORDER BY key LIMIT n; never OFFSET). No row when the range is empty;
-- `rows_seen` <= limit_rows means the whole range fits and needs no cut.
-- Read-only. Locks: ACCESS SHARE on the source table.
-- Placeholders: {source}, {key}, {range}. Parameters: lo, hi, limit_rows_plus_one.
SELECT k::text AS split_key, count(*) OVER () AS rows_seen
  FROM (SELECT s.{key} AS k
          FROM {source} AS s
         WHERE {range}
         ORDER BY s.{key}
         LIMIT %(limit_rows_plus_one)s) AS t
 ORDER BY k DESC
 LIMIT 1;
