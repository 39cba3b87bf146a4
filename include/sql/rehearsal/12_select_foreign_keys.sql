-- The foreign keys of the tables in the given schemas (top-level constraints only, not the
-- copies on partitions): child and parent table and their key columns in order.
-- Read-only, idempotent. Locks: none (catalog read).
-- No placeholders. Parameter (positional, the only one): the schema names (text array).
SELECT cn.nspname AS child_schema, cc.relname AS child, pn.nspname AS parent_schema, pc.relname AS parent,
       array(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.i) AS child_cols,
       array(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.i) AS parent_cols
FROM pg_constraint con
JOIN pg_class cc ON cc.oid = con.conrelid JOIN pg_namespace cn ON cn.oid = cc.relnamespace
JOIN pg_class pc ON pc.oid = con.confrelid JOIN pg_namespace pn ON pn.oid = pc.relnamespace
WHERE con.contype = 'f' AND cn.nspname = ANY(%s) AND con.conparentid = 0
