-- Every registry row with two derived flags: registered (registered_at set) and has_label (the
-- feed has a label template for it); unregistered rows first.
-- Read-only. Locks: ACCESS SHARE on the registry. Placeholder: "state" the state schema.

SELECT r.*, r.registered_at IS NOT NULL AS registered, r.label_template IS NOT NULL AS has_label
FROM {state}.event_types r
ORDER BY r.registered_at IS NULL DESC, r.event_type;
