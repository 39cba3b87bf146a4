-- The write probe: N single-row INSERT (DEFAULT VALUES) + DELETE pairs on one table, each
-- pair timed inside the server (clock_timestamp), so network round trips do not drown the
-- cost of the triggers a write fires. The caller runs it in a transaction it always rolls
-- back (nothing persists; rolled-back tuples still count in pg_stat_user_tables), as the
-- probe role, after setting activity_migration.probe_table (regclass text) and
-- activity_migration.probe_writes; the timings (ms) come back in
-- activity_migration.probe_result. Not idempotent by itself; harmless when rolled back.
-- Locks: ROW EXCLUSIVE on the probed table (as any application write).
DO $probe$
DECLARE
    v_table regclass := current_setting('activity_migration.probe_table')::regclass;
    v_n     int      := current_setting('activity_migration.probe_writes')::int;
    v_ctid  tid;
    v_t0    timestamptz;
    v_ms    float8[] := '{}';
BEGIN
    FOR i IN 1..v_n LOOP
        v_t0 := clock_timestamp();
        EXECUTE format('INSERT INTO %s DEFAULT VALUES RETURNING ctid', v_table) INTO v_ctid;
        EXECUTE format('DELETE FROM %s WHERE ctid = $1', v_table) USING v_ctid;
        v_ms := v_ms || (extract(epoch FROM clock_timestamp() - v_t0) * 1000)::float8;
    END LOOP;
    PERFORM set_config('activity_migration.probe_result', v_ms::text, true);
END
$probe$
