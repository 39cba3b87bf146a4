-- Create the compatibility view: the old activity_logs shape (same column names, order and
-- types, read from the catalog) over {events}, for anything that still reads the old shape.
-- security_invoker = true (Postgres 15+): the caller's RLS on {events} applies, so an
-- authenticated user sees only their own rows, exactly as with the old table.
-- Key column: the legacy id when the event has one, else (uuid keys) the event id; with an
-- integer key there is no such fallback and it is NULL (the event id is in event_id).
-- Idempotent (CREATE OR REPLACE; the column list never changes for a given source table).
-- Locks: none on application tables (a new view; reading {events} needs no lock at create).
-- Placeholders: {view} qualified view name, {select_list} the column expressions, {events},
-- {view_options} WITH (security_invoker = true) or nothing.
-- Grants: privileges.py, in the same transaction: SELECT for authenticated and service_role;
-- Postgres 14 has no security_invoker, so there the view is granted to service_role only (it
-- would bypass RLS for every other reader), and phase 3 logs a warning.
CREATE OR REPLACE VIEW {view} {view_options} AS
SELECT {select_list}
FROM {events} AS e;
