-- The write probe: N single-row writes on one table, each timed inside the server
-- (clock_timestamp), so network round trips do not drown the cost of the triggers a write
-- fires. Two forms, chosen by activity_migration.probe_mode:
--   insert: INSERT … DEFAULT VALUES, then DELETE of that row (insert and delete triggers);
--   update: a no-op UPDATE (first column set to itself) of one existing row, taken with
--           FOR UPDATE SKIP LOCKED so an application transaction is never waited for
--           (update triggers); for tables where DEFAULT VALUES cannot make a row (a NOT
--           NULL column without default, a check constraint).
-- The caller runs it in a transaction it always rolls back (nothing persists; rolled-back
-- tuples still count in pg_stat_user_tables), after setting activity_migration.probe_table
-- (regclass text), activity_migration.probe_writes and activity_migration.probe_mode; the
-- timings (ms) come back in activity_migration.probe_result. Not idempotent by itself;
-- harmless when rolled back.
-- Locks: ROW EXCLUSIVE on the probed table (as any application write); update mode also
-- holds the one row it rewrites until the rollback.
DO $probe$
DECLARE
    v_table regclass := current_setting('activity_migration.probe_table')::regclass;
    v_n     int      := current_setting('activity_migration.probe_writes')::int;
    v_mode  text     := current_setting('activity_migration.probe_mode');
    v_col   text;
    v_ctid  tid;
    v_t0    timestamptz;
    v_ms    float8[] := '{}';
BEGIN
    IF v_mode = 'update' THEN
        SELECT quote_ident(a.attname) INTO v_col FROM pg_attribute a
         WHERE a.attrelid = v_table AND a.attnum > 0 AND NOT a.attisdropped
           AND a.attidentity = '' AND a.attgenerated = ''   -- identity ALWAYS refuses a rewrite
         ORDER BY a.attnum LIMIT 1;
        EXECUTE format('SELECT ctid FROM %s LIMIT 1 FOR UPDATE SKIP LOCKED', v_table) INTO v_ctid;
        IF v_ctid IS NULL THEN
            RAISE EXCEPTION 'update probe: % has no row that is free to lock', v_table;
        END IF;
    END IF;
    FOR i IN 1..v_n LOOP
        v_t0 := clock_timestamp();
        IF v_mode = 'update' THEN
            EXECUTE format('UPDATE %s SET %s = %s WHERE ctid = $1 RETURNING ctid', v_table, v_col, v_col)
                USING v_ctid INTO v_ctid;
        ELSE
            EXECUTE format('INSERT INTO %s DEFAULT VALUES RETURNING ctid', v_table) INTO v_ctid;
            EXECUTE format('DELETE FROM %s WHERE ctid = $1', v_table) USING v_ctid;
        END IF;
        v_ms := v_ms || (extract(epoch FROM clock_timestamp() - v_t0) * 1000)::float8;
    END LOOP;
    PERFORM set_config('activity_migration.probe_result', v_ms::text, true);
END
$probe$
