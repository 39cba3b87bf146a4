-- The error a rejected event raises, shared by the internal writer's two forms
-- (p1_infrastructure/04, p2_dual_write/01): SQLSTATE 22023 with the reason, the event's
-- identifying values and a hint. Not a statement: the "raise_rejected" placeholder of those
-- files (PL/pgSQL, after the caller's IF on v_reason).
        RAISE EXCEPTION 'publish_activity rejected the event: %', v_reason
            USING ERRCODE = '22023',
                  DETAIL = format('reason=%s event_type=%L entity_type=%L occurred_at=%L payload_bytes=%s',
                                  v_reason, left(p_event_type, 200), left(p_entity_type, 200), p_occurred_at,
                                  octet_length(v_payload::text)),
                  HINT = 'event types look like entity.action (lower case), entity types must be listed in '
                         'the migration config categories, payload must be a JSON object within the size limit';
