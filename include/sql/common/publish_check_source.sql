-- The internal writer's first check, shared by its two forms (p1_infrastructure/04 events only,
-- p2_dual_write/01 dual write): the source must be one of the three writers.
-- Not a statement: the "check_source" placeholder of those files (PL/pgSQL, inside BEGIN).
    IF p_source IS NULL OR p_source NOT IN ('trigger', 'service', 'backfill') THEN
        RAISE EXCEPTION 'publish_activity rejected the event: invalid_source'
            USING ERRCODE = '22023',
                  DETAIL = format('p_source must be trigger, service or backfill, got %L', p_source);
    END IF;
