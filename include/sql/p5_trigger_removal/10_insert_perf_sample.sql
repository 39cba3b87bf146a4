-- Record one measurement (or a sensor window's opening snapshot) in the state schema's
-- perf_samples. Not idempotent: every call adds a row (the newest row per purpose wins).
-- Locks: ROW EXCLUSIVE on perf_samples. Placeholder: state, the state schema.
-- Bound (named): purpose, tier, table_name (NULL for the whole tier), metric, value, details.
INSERT INTO {state}.perf_samples (purpose, tier, table_name, metric, value, details)
VALUES (%(purpose)s, %(tier)s, %(table_name)s, %(metric)s, %(value)s, %(details)s)
