-- The full scope's temp table of per (entity type, UTC day) groups of the one-pass
-- collection (02_collect_parity_full.sql fills it), dropped at the end of the transaction.
-- Not idempotent within one transaction (created once per collection); no lock on
-- application tables. No placeholders, no bound parameters.
CREATE TEMP TABLE parity_groups (s_entity_type text, s_day date, e_entity_type text, e_day date,
                                 source_rows bigint NOT NULL, event_rows bigint NOT NULL,
                                 differing_rows bigint NOT NULL) ON COMMIT DROP
