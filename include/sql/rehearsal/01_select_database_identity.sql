-- Which database a connection is on: its name and the server's address and port (the
-- address is empty on a unix socket). Read-only, idempotent. Locks: none.
-- No placeholders, no parameters.
SELECT current_database() AS db, inet_server_addr()::text AS addr, inet_server_port() AS port
