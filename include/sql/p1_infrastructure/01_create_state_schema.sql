-- Create the migration's own schema and every state table the phases share.
-- Idempotent (IF NOT EXISTS everywhere). Locks: none on application tables; only new
-- objects in {state}. Placeholder {state} is the state schema (quoted identifier).
-- Run by ledger.ensure_state_schema when the schema is missing or this file changed (the
-- schema's comment holds a hash of it), followed by the lock-down of privileges/01.
-- Airflow's metadata is not the source of truth: everything needed to resume lives here.

CREATE SCHEMA IF NOT EXISTS {state};

-- What ran, where, when, who approved. One row per phase step attempt.
CREATE TABLE IF NOT EXISTS {state}.phase_ledger (
    id              bigserial PRIMARY KEY,
    phase           text        NOT NULL,              -- p1_infrastructure, p2_dual_write, ..., rollback, nightly
    step            text        NOT NULL,              -- apply, verify, rollback, gate, approval, tier_3_drop, ...
    status          text        NOT NULL CHECK (status IN ('started','succeeded','failed','rejected','skipped')),
    environment     text        NOT NULL DEFAULT 'production',
    mode            text        NOT NULL DEFAULT 'normal',  -- normal | demo (demo may skip approvals, recorded)
    project_version text,
    dag_run_id      text,
    actor           text,                              -- who approved / who triggered
    details         jsonb       NOT NULL DEFAULT '{}'::jsonb,
    started_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at     timestamptz
);
CREATE INDEX IF NOT EXISTS phase_ledger_phase_idx ON {state}.phase_ledger (phase, step, started_at DESC);

-- Key/value settings the application and the phases read: cutoff, read_source,
-- throttle thresholds (changeable while a backfill runs), phase-4 copy parameters.
CREATE TABLE IF NOT EXISTS {state}.settings (
    key        text PRIMARY KEY,
    value      jsonb       NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text
);

-- DDL backups, as the catalog prints them (pg_get_functiondef / pg_get_triggerdef).
CREATE TABLE IF NOT EXISTS {state}.ddl_backups (
    id           bigserial PRIMARY KEY,
    phase        text        NOT NULL,          -- p2_dual_write, p5_trigger_removal, p6_cleanup
    tier         int,                           -- phase 5: tier number
    object_type  text        NOT NULL CHECK (object_type IN ('function','trigger','policy','view','table','other')),
    schema_name  text        NOT NULL,
    object_name  text        NOT NULL,          -- function name, or trigger name
    table_name   text,                          -- trigger: its table (schema.table)
    identity     text        NOT NULL,          -- regprocedure text for functions, schema.table.trigger for triggers
    definition   text        NOT NULL,
    enabled      "char",                        -- trigger: pg_trigger.tgenabled at backup time
    taken_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    restored_at  timestamptz,
    UNIQUE (phase, object_type, identity)
);

-- Backfill chunk ledger: key ranges [lo, hi) (text holds uuid or integer keys; the copier
-- casts to the key type). A fresh Airflow resumes from here.
CREATE TABLE IF NOT EXISTS {state}.backfill_chunks (
    chunk_id        bigserial PRIMARY KEY,
    lo              text,                        -- inclusive; null = unbounded
    hi              text,                        -- exclusive; null = unbounded
    status          text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','running','done','failed')),
    rows_copied     bigint      NOT NULL DEFAULT 0,
    rows_quarantined bigint     NOT NULL DEFAULT 0,
    attempts        int         NOT NULL DEFAULT 0,
    claimed_by      text,
    last_error      text,
    started_at      timestamptz,
    finished_at     timestamptz
);
CREATE INDEX IF NOT EXISTS backfill_chunks_status_idx ON {state}.backfill_chunks (status, chunk_id);
-- The latency controller's decision before each chunk (backfill/controller.py): the app's
-- write p95 estimate (ms), its ratio to the idle baseline, the action and the yield it chose.
ALTER TABLE {state}.backfill_chunks
    ADD COLUMN IF NOT EXISTS app_p95_ms        double precision,
    ADD COLUMN IF NOT EXISTS app_latency_ratio double precision,
    ADD COLUMN IF NOT EXISTS yield_ratio       double precision,
    ADD COLUMN IF NOT EXISTS throttle_action   text;

-- One row per backfill worker: the latency probe commits a one-row upsert here (a write that
-- waits for the WAL flush like the application's commits do) when pg_stat_statements is absent.
CREATE TABLE IF NOT EXISTS {state}.backfill_latency_probe (
    worker      text PRIMARY KEY,
    probes      bigint      NOT NULL DEFAULT 1,
    probed_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Source rows that could not be mapped, with the reason and the original row.
CREATE TABLE IF NOT EXISTS {state}.quarantine (
    legacy_id       text        PRIMARY KEY,     -- the activity_logs key, as text
    reason          text        NOT NULL CHECK (reason <> ''),
    detail          text,
    original_row    jsonb       NOT NULL,
    quarantined_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    chunk_id        bigint,
    acknowledged_by text,                        -- phase 6 requires every row acknowledged or resolved
    acknowledged_at timestamptz,
    resolved_at     timestamptz                  -- set when the row was fixed and copied after all
);

-- Performance baselines and samples (phase 5 sensors, phase 4 throttle history).
CREATE TABLE IF NOT EXISTS {state}.perf_samples (
    id          bigserial PRIMARY KEY,
    purpose     text        NOT NULL,            -- baseline | after_drop | throttle | backfill_progress
    tier        int,
    table_name  text,
    metric      text        NOT NULL,
    value       double precision,
    details     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    sampled_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS perf_samples_lookup_idx ON {state}.perf_samples (purpose, tier, sampled_at DESC);

-- Validation (Great Expectations) results: gates read the newest one for a suite.
CREATE TABLE IF NOT EXISTS {state}.validation_results (
    id              bigserial PRIMARY KEY,
    suite           text        NOT NULL,
    scope           text        NOT NULL DEFAULT 'full',   -- full | incremental
    success         boolean     NOT NULL,
    statistics      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    failures        jsonb       NOT NULL DEFAULT '[]'::jsonb,
    data_docs_path  text,
    environment     text        NOT NULL DEFAULT 'production',
    project_version text,
    dag_run_id      text,
    checked_upto    timestamptz,                           -- incremental watermark
    run_at          timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS validation_results_suite_idx ON {state}.validation_results (suite, run_at DESC);

-- Which tiers of legacy triggers are removed (phase 5).
CREATE TABLE IF NOT EXISTS {state}.tier_state (
    tier        int PRIMARY KEY,
    status      text NOT NULL CHECK (status IN ('pending','backed_up','dropped','verified','restored')),
    triggers    jsonb NOT NULL DEFAULT '[]'::jsonb,
    improvement jsonb NOT NULL DEFAULT '{}'::jsonb,
    updated_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Phase 5 (added by p5_trigger_removal): what a backup needs besides the printed definition
-- (schema-qualified definition for restoring, owner, privileges, comment, trigger -> function),
-- and per tier the facts its sensors judge by (entity types the tier's triggers log, tables).
ALTER TABLE {state}.ddl_backups ADD COLUMN IF NOT EXISTS details jsonb NOT NULL DEFAULT '{}'::jsonb;
ALTER TABLE {state}.tier_state ADD COLUMN IF NOT EXISTS details jsonb NOT NULL DEFAULT '{}'::jsonb;

-- Archives of the legacy table made by phase 6 (p6_cleanup): the table itself, renamed into
-- this schema (metadata only), with a row count and checksum taken when it stopped changing.
-- Deleting an archive (its own approved step) makes the rollback to before phase 6 impossible.
CREATE TABLE IF NOT EXISTS {state}.archives (
    name            text PRIMARY KEY,                      -- table name in this schema
    source_table    text        NOT NULL,                  -- what it was: public.activity_logs
    rows            bigint,
    checksum        text,                                  -- see docs/phase-6-cleanup.md
    unlinked_since  timestamptz,                           -- events after this without a legacy id were born after cleanup
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    retention_days  int         NOT NULL DEFAULT 30 CHECK (retention_days >= 0),
    restored_at     timestamptz,                           -- rolled back: the table is public.activity_logs again
    deleted_at      timestamptz,                           -- dropped for good
    deleted_by      text
);

-- Phase 6 revokes every grant on the archived legacy table (it holds personal data and only
-- the owner may read it) and keeps them here, with its row-level security flag, so that the
-- rollback puts the table back exactly: {"grants": [{grantee, privilege, grantable, column}],
-- "row_security": bool}.
ALTER TABLE {state}.archives ADD COLUMN IF NOT EXISTS access jsonb;

-- Phase 5's handover: an event a legacy trigger wrote that the application also published (or
-- the other way round) in the same transaction, confirmed instead of written twice. Phase 5
-- drops a tier's triggers only when the application's publishes cover the triggers' writes.
CREATE TABLE IF NOT EXISTS {state}.publish_confirmations (
    event_id     uuid        PRIMARY KEY,
    entity_type  text        NOT NULL,
    confirmed_by text        NOT NULL CHECK (confirmed_by IN ('service', 'trigger')),  -- the second call's source
    confirmed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
