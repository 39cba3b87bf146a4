-- Whether the parity views and tables are all present in the state schema, and the comment
-- of v_parity_source, whose end carries the hash of the view definitions last created:
-- the caller recreates the views only when one is missing or the definitions changed.
-- Read-only catalog query (no lock). Idempotent.
-- Bound parameters (named): views (the view names), tables (the table names), schema (the
-- state schema's name). No placeholders.
SELECT count(*) FILTER (WHERE (c.relkind = 'v' AND c.relname = ANY(%(views)s))
                           OR (c.relkind IN ('r', 'u', 'p') AND c.relname = ANY(%(tables)s))) AS present,
       max(obj_description(c.oid, 'pg_class')) FILTER (WHERE c.relname = 'v_parity_source') AS comment
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = %(schema)s
