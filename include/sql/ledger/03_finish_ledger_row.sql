-- Finish one ledger row: its status (succeeded / failed / ...), its details merged in, when.
-- The started row's ``worker`` (host and pid, kept while the step runs so the status page can
-- tell a running step from one whose process is gone) is dropped: a finished row has none.
-- Idempotent for the same arguments. Locks: a row lock on the ledger row.
-- Placeholder: ledger, the state schema's phase_ledger table.
-- Parameters (named): status, details (jsonb), id.
UPDATE {ledger}
   SET status = %(status)s, details = (details - 'worker') || %(details)s, finished_at = clock_timestamp()
 WHERE id = %(id)s
