-- pg_trigger.tgtype of every user trigger on one table (the bits say INSERT / DELETE / UPDATE).
-- Read-only; idempotent. Locks: none (catalog reads).
-- Bound (positional): schema name, table name. No placeholder.
SELECT t.tgtype FROM pg_trigger t
WHERE t.tgrelid = to_regclass(format('%%I.%%I', %s::text, %s::text)) AND NOT t.tgisinternal
