-- Register one event type (the CLI's "event-types register"): a new row, or an existing one
-- (seen but unregistered, or registered before) updated with what was given; a value not
-- given keeps the old one. Idempotent (the same call gives the same row, but a new
-- registered_at). Locks: the registry row. Placeholder: "state" the state schema.
-- Parameters: "event_type", "category", "description", "by", "label" (label template).

INSERT INTO {state}.event_types AS r (event_type, category, description, registered_by, registered_at,
                                      label_template)
VALUES (%(event_type)s, %(category)s, %(description)s, %(by)s, now(), %(label)s)
ON CONFLICT (event_type) DO UPDATE
    SET category = coalesce(EXCLUDED.category, r.category),
        description = coalesce(EXCLUDED.description, r.description),
        registered_by = EXCLUDED.registered_by, registered_at = EXCLUDED.registered_at,
        label_template = coalesce(EXCLUDED.label_template, r.label_template)
RETURNING r.*;
