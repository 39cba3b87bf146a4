-- Create the outcome samples table: what the application's activity logging cost at the start of
-- each phase (and at the end of the migration), for the outcome report (docs/outcome-report.md).
-- One row per (sample, kind): kind write_latency | io_per_write | read_queries | parameters;
-- method says how the figures were measured (pg_stat_statements, probe, explain_analyze, ...).
-- Explicit ACL in the same transaction (docs/security.md): nothing for PUBLIC, anon,
-- authenticated or service_role; row level security on with no policy (only the owner reads it).
-- Idempotent (IF NOT EXISTS; the REVOKE is repeatable). Locks: none on application tables; ACCESS
-- EXCLUSIVE on the new table while RLS is enabled. Placeholders: {state} state schema, {samples}
-- the qualified table. Run by outcome.samples.ensure_samples_table, after ledger.ensure_state_schema.
CREATE TABLE IF NOT EXISTS {samples} (
    id              bigserial   PRIMARY KEY,
    sample_id       uuid        NOT NULL,               -- the rows of one capture share it
    phase           text        NOT NULL,               -- p1_infrastructure … p6_cleanup, or report
    point           text        NOT NULL CHECK (point IN ('start', 'final', 'on_demand')),
    tier            int,                                -- phase 5: the run's tier
    environment     text        NOT NULL DEFAULT 'production',
    kind            text        NOT NULL,
    method          text        NOT NULL,
    figures         jsonb       NOT NULL DEFAULT '{}'::jsonb,
    project_version text,
    dag_run_id      text,
    sampled_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS outcome_samples_kind_idx ON {samples} (kind, sampled_at);
REVOKE ALL ON TABLE {samples} FROM PUBLIC, anon, authenticated, service_role;
ALTER TABLE {samples} ENABLE ROW LEVEL SECURITY;
