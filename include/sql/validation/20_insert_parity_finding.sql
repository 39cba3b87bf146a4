-- Store one parity finding (one check, or one field of the mismatch check) in the state
-- schema's parity_findings table; the caller deleted the previous run's rows first, in the
-- same transaction, and runs this once per finding (executemany).
-- Not idempotent (inserts a row). Lock: RowExclusive on parity_findings only.
-- Placeholder: the parity_findings table (schema-qualified). Bound parameters (named): the
-- check name, field, whether it was checked, failure count, examples, detail and scope.
INSERT INTO {findings} (check_name, field, checked, failures, examples, detail, scope)
VALUES (%(check_name)s, %(field)s, %(checked)s, %(failures)s, %(examples)s, %(detail)s, %(scope)s)
