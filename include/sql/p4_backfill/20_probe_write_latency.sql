-- Latency probe of the backfill's controller: one committed one-row upsert, timed by the
-- caller (a write that waits for the WAL flush as the application's commits do).
-- Idempotent in effect (one row per worker). Locks: ROW EXCLUSIVE on the probe table, the
-- worker's own row. Placeholders: the probe table. Parameters: worker (the worker's name).
INSERT INTO {probe} AS p (worker) VALUES (%(worker)s)
ON CONFLICT (worker) DO UPDATE SET probes = p.probes + 1, probed_at = clock_timestamp()
