-- The session's temp table of the rows that differ (kind, legacy key, differing fields,
-- rejection reason), filled by the collect files and dropped at the end of the transaction.
-- Not idempotent within one transaction (created once per collection); no lock on
-- application tables. Placeholder: the source key's type. No bound parameters.
CREATE TEMP TABLE parity_diff (kind text NOT NULL, legacy_key {key_type} NOT NULL,
                               fields text[], reason text) ON COMMIT DROP
