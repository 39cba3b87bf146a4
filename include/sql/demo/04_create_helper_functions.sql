-- Create the application's small helper functions: set_updated_at() (the NON-logging
-- BEFORE UPDATE trigger function) and the request helpers the logging functions use to
-- read the caller's IP address and user agent, and the changed fields of an update.
-- None of these writes anything: the migration must never touch them.
-- Idempotent (CREATE OR REPLACE). Locks: none.

CREATE OR REPLACE FUNCTION public.set_updated_at()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

-- One HTTP header of the current request (PostgREST puts them in request.headers as a
-- JSON object), or NULL when there is no request, the header is absent or the setting is
-- not valid JSON. A malformed header must never make the application's write fail.
CREATE OR REPLACE FUNCTION public.request_header(p_name text)
RETURNS text
LANGUAGE plpgsql
STABLE
AS $$
DECLARE
    v_headers text := nullif(current_setting('request.headers', true), '');
BEGIN
    IF v_headers IS NULL THEN
        RETURN NULL;
    END IF;
    RETURN nullif(v_headers::json ->> lower(p_name), '');
EXCEPTION WHEN others THEN
    RETURN NULL;
END;
$$;

-- The client address: the first hop of x-forwarded-for, NULL when absent or not an address.
CREATE OR REPLACE FUNCTION public.request_ip()
RETURNS inet
LANGUAGE plpgsql
STABLE
AS $$
DECLARE
    v_forwarded text := public.request_header('x-forwarded-for');
BEGIN
    IF v_forwarded IS NULL THEN
        RETURN NULL;
    END IF;
    RETURN trim(split_part(v_forwarded, ',', 1))::inet;
EXCEPTION WHEN others THEN
    RETURN NULL;
END;
$$;

-- Names of the columns an UPDATE changed (updated_at left out), as a sorted JSON array.
CREATE OR REPLACE FUNCTION public.changed_fields(p_old jsonb, p_new jsonb)
RETURNS jsonb
LANGUAGE sql
IMMUTABLE
AS $$
    SELECT coalesce(jsonb_agg(n.key ORDER BY n.key), '[]'::jsonb)
    FROM jsonb_each(p_new) AS n
    WHERE n.key <> 'updated_at'
      AND n.value IS DISTINCT FROM p_old -> n.key
$$;

GRANT EXECUTE ON FUNCTION public.request_header(text), public.request_ip(),
    public.changed_fields(jsonb, jsonb) TO anon, authenticated, service_role;
