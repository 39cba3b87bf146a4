-- Set, for the current transaction only, the lock timeout and the settings the write-latency
-- probe (p5_trigger_removal/08_probe_write_latency.sql) reads: the quoted table, the number
-- of writes and the probe mode.
-- Idempotent (transaction-local settings). Locks: none.
-- Placeholders: none. Parameters (positional): lock timeout, quoted table name, writes, mode.
SELECT set_config('lock_timeout', %s, true), set_config('activity_migration.probe_table', %s, true),
       set_config('activity_migration.probe_writes', %s, true),
       set_config('activity_migration.probe_mode', %s, true)
