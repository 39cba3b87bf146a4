-- The definitions of the user triggers, functions and procedures, and policies of the given
-- schemas, one text per object in a stable order (hashed into a fingerprint to compare two
-- databases quickly). Read-only, idempotent. Locks: none (catalog read).
-- No placeholders. Parameter (named): schemas, the schema names (text array).
SELECT 't' AS k, pg_get_triggerdef(t.oid) AS d FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT t.tgisinternal AND n.nspname = ANY(%(schemas)s)
UNION ALL
SELECT 'f', pg_get_functiondef(p.oid) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
  WHERE n.nspname = ANY(%(schemas)s) AND p.prokind IN ('f', 'p')
UNION ALL
SELECT 'p', concat_ws('|', schemaname, tablename, policyname, permissive, roles::text, cmd, qual, with_check)
  FROM pg_policies WHERE schemaname = ANY(%(schemas)s)
ORDER BY 1, 2
