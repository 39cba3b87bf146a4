-- The newest run of one phase step in any environment (a staging database may hold a run
-- recorded under another environment by mistake). Read-only, idempotent.
-- Locks: ACCESS SHARE on the ledger table.
-- Placeholder: ledger, the state schema's phase_ledger table.
-- Parameters (named): phase, step.
SELECT * FROM {ledger} WHERE phase = %(phase)s AND step = %(step)s ORDER BY id DESC LIMIT 1
