-- Everything that uses a trigger function: the triggers executing it (with their oid, so the
-- caller can leave out the ones it drops), other objects depending on it, and the extension
-- it belongs to. A function with users left is kept when its tier is dropped.
-- Read only; idempotent. Locks: none (catalog reads). No placeholders.
-- Bound (named): f, the function's oid.
SELECT 'trigger ' || n.nspname || '.' || c.relname || '.' || t.tgname AS what, t.oid
FROM pg_trigger t
JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE t.tgfoid = %(f)s
UNION ALL
SELECT pg_describe_object(d.classid, d.objid, d.objsubid), NULL
FROM pg_depend d
WHERE d.refclassid = 'pg_proc'::regclass AND d.refobjid = %(f)s
  AND d.classid <> 'pg_trigger'::regclass
UNION ALL
SELECT 'member of ' || pg_describe_object(d.refclassid, d.refobjid, 0), NULL
FROM pg_depend d
WHERE d.classid = 'pg_proc'::regclass AND d.objid = %(f)s AND d.deptype = 'e'
