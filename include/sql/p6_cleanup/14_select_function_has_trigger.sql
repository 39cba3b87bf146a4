-- Whether any trigger executes the function given by identity.
-- Read only; idempotent. Locks: none (catalog reads). No placeholders.
-- Bound (named): identity, the function's signature.
SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgfoid = to_regprocedure(%(identity)s))
