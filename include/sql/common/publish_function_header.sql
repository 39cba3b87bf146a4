-- The header of publish_activity (the API) and of its internal writer: one place for the three
-- functions that use it (p1_infrastructure/04 and 05, p2_dual_write/01) and for the signature
-- the catalog prints (phases/_common.py reads the parameter types from here).
-- Not a statement: the "publish_header" placeholder of those files; placeholder "function" is
-- the function's qualified name. One parameter per line, each line starting with "    p_".
CREATE OR REPLACE FUNCTION {function}(
    p_event_type    text,
    p_entity_type   text,
    p_entity_id     text        DEFAULT NULL,
    p_payload       jsonb       DEFAULT '{}'::jsonb,
    p_actor_id      uuid        DEFAULT auth.uid(),
    p_customer_id   uuid        DEFAULT NULL,
    p_description   text        DEFAULT NULL,
    p_source        text        DEFAULT 'service',
    p_occurred_at   timestamptz DEFAULT now(),
    p_ip_address    inet        DEFAULT NULL,
    p_user_agent    text        DEFAULT NULL,
    p_legacy_action text        DEFAULT NULL
) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
