-- The current value of every used sequence of the given schemas (a sequence never called
-- has none and is left out), for setval on the copy.
-- Read-only, idempotent. Locks: none (pg_sequences reads each sequence's state).
-- No placeholders. Parameter (named): schemas, the application schema names (text array).
SELECT schemaname, sequencename, last_value FROM pg_sequences
WHERE schemaname = ANY(%(schemas)s) AND last_value IS NOT NULL
