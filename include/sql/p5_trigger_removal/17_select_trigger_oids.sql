-- The oids of live triggers given by identity (schema.table.trigger).
-- Read only; idempotent. Locks: none (catalog reads). No placeholders.
-- Bound (named): identities, a text array.
SELECT t.oid
FROM pg_trigger t
JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE (n.nspname || '.' || c.relname || '.' || t.tgname) = ANY(%(identities)s)
