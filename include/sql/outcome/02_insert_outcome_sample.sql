-- Append one outcome sample row. Not idempotent (every capture adds rows; a re-run is a new
-- sample, which the report treats as the newer measurement). Locks: ROW EXCLUSIVE on {samples}.
-- Placeholders: {samples}. Parameters: sample_id, phase, point, tier, environment, kind, method,
-- figures (jsonb), project_version, dag_run_id.
INSERT INTO {samples} (sample_id, phase, point, tier, environment, kind, method, figures, project_version,
                       dag_run_id)
VALUES (%(sample_id)s, %(phase)s, %(point)s, %(tier)s, %(environment)s, %(kind)s, %(method)s, %(figures)s,
        %(project_version)s, %(dag_run_id)s)
RETURNING id
