-- The switch's cutoff, read under the SHARE lock on the source table: the clock, a snapshot
-- exported for the side connection that counts the rows before the switch, and the source
-- key's maximum. Read-only. Locks: none beyond the caller's (runs inside the switch transaction).
-- Placeholder max_key: the key's maximum as a sub-select, or NULL for a key that is not an
-- integer. No bound parameter.
SELECT clock_timestamp() AS cutoff_at, pg_export_snapshot() AS snap, {max_key} AS max_key
