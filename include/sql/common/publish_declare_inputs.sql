-- The internal writer's normalised inputs, shared by its two forms (p1_infrastructure/04
-- events only, p2_dual_write/01 dual write): trimmed event and entity types, the sanitised
-- description, the payload ('{}' when NULL). Not a statement: the "declare_inputs"
-- placeholder of those files (PL/pgSQL, the first lines of DECLARE). Placeholders: {state}.
    v_event_type  text  := btrim(p_event_type);
    v_entity_type text  := btrim(p_entity_type);
    v_description text  := {state}.sanitize_text(p_description);
    v_payload     jsonb := coalesce(p_payload, '{}'::jsonb);
