-- Memberships among the given roles (which role is granted to which member), to copy
-- between the roles rehearsal-copy creates. Read-only, idempotent. Locks: none (catalog read).
-- No placeholders. Parameter (named): roles, the role names (text array).
SELECT r.rolname AS role, m.rolname AS member
FROM pg_auth_members a
JOIN pg_roles r ON r.oid = a.roleid JOIN pg_roles m ON m.oid = a.member
WHERE r.rolname = ANY(%(roles)s) AND m.rolname = ANY(%(roles)s)
