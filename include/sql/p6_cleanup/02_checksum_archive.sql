-- Row count and checksum of an archive (it no longer changes: nothing writes it).
-- Checksum: the sum, as numeric, of the first 64 bits of md5(row::text) of every row, as
-- 'sum64:<n>'. Order-independent (no sort of millions of rows), one pass, and any changed,
-- added or removed row changes it (except by a 2^-64 accident). Restore checks recompute it.
-- Read only; idempotent. Lock: ACCESS SHARE on the archive. Placeholder: {archive}.
SELECT count(*) AS rows,
       'sum64:' || coalesce(sum(('x' || substr(md5(a::text), 1, 16))::bit(64)::bigint::numeric), 0)::text AS checksum
FROM {archive} AS a;
