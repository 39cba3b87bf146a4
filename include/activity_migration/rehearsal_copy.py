"""Build a staging database for the rehearsal from production: schema + a consistent sample.

For teams without a staging copy: ``activity-migration rehearsal-copy --from <production>
--to <staging> --sample-rows N`` gives the rehearsal the same tables, functions, triggers,
policies and grants as production, and realistic rows, so the phases exercise the same
triggers on the same shapes of data.

How (one consistent snapshot of the source for everything):

1. Refuse a target that is the source (same cluster system identifier and database name, or
   the same DSN) or is not empty (any table, view, sequence or function in a non-system
   schema, or any schema besides ``public``).
2. Open one REPEATABLE READ, READ ONLY transaction on the source and export its snapshot.
3. Roles: every role the copied objects name (owners, grantees, policy roles, default
   privileges) that the target cluster lacks is created ``NOLOGIN`` (keeping INHERIT and,
   when the target user may grant it, BYPASSRLS), never with a password or superuser; role
   memberships between those roles are copied.
4. Schema: ``pg_dump --schema-only --snapshot=<that snapshot>`` of every application schema,
   excluding the migration's own state schema (staging keeps its own ledger), without
   subscriptions or tablespaces, piped to ``psql --single-transaction -v ON_ERROR_STOP=1``.
   pg_dump must be at least the source server's major version: the newest installed one
   (``/usr/lib/postgresql/*/bin``, PATH, the pgserver wheel) that is new enough is used.
5. Data, streamed with ``COPY (SELECT …) TO STDOUT`` → ``COPY … FROM STDIN`` in one target
   transaction with ``session_replication_role = replica`` (no trigger fires, so the load
   writes no activity rows and FK checks are deferred to step 6):
   - the source table (``activity_logs``): ``sample_rows`` rows in a pseudo-random order
     that is stable within the snapshot (md5 of the key);
   - the target table (``events``), when production already has it: the events of the
     sampled rows (by legacy id) only;
   - every other table: whole when it holds at most ``max_table_rows`` rows, else a random
     ``max_table_rows`` of it.
6. Rows whose foreign keys point at rows that were not copied (only possible below a
   sampled table) are deleted, repeatedly, until every foreign key holds.
7. Sequences are set to the source's values, populated materialized views refreshed, the
   tables analyzed.

Not copied: the state schema, subscriptions, tablespaces, large objects, data of foreign
and unlogged-in-name-only objects (foreign tables keep their definition), role passwords
and LOGIN rights, cluster settings, extensions' own data.
"""
from __future__ import annotations

import hashlib
import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import psycopg
from psycopg import sql

from .config import MigrationConfig, load_config
from .connections import resolve_dsn
from .db import connect, fetch_all, fetch_one, redact, scalar
from .errors import MigrationError
from .rehearsal import database_identity, same_database

SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")
DEFAULT_MAX_TABLE_ROWS = 100_000


class CopyRefused(MigrationError):
    """The target may not receive the copy (not empty, or the source itself)."""


@dataclass
class TableCopy:
    table: str
    rows: int
    how: str  # whole | sample | linked


@dataclass
class CopyReport:
    source: str
    target: str
    schemas: list[str] = field(default_factory=list)
    roles_created: list[str] = field(default_factory=list)
    tables: list[TableCopy] = field(default_factory=list)
    pruned: dict[str, int] = field(default_factory=dict)
    sequences: int = 0
    matviews: list[str] = field(default_factory=list)
    pg_dump: str = ""
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

    def rows_of(self, table: str) -> int:
        return next((t.rows for t in self.tables if t.table == table), 0) - self.pruned.get(table, 0)

    def render(self) -> str:
        lines = [f"rehearsal-copy {self.source} -> {self.target} ({self.seconds:.1f} s, {self.pg_dump})",
                 f"schemas: {', '.join(self.schemas)}",
                 f"roles created (NOLOGIN): {', '.join(self.roles_created) or 'none (all exist on the target)'}"]
        lines.append("tables:")
        for t in self.tables:
            pruned = self.pruned.get(t.table, 0)
            extra = f", {pruned} removed as orphans" if pruned else ""
            lines.append(f"  {t.table}: {t.rows - pruned} rows ({t.how}{extra})")
        lines.append(f"sequences set: {self.sequences}; materialized views refreshed: "
                     f"{', '.join(self.matviews) or 'none'}")
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# endpoints and binaries


def resolve_endpoint(value: str) -> str:
    """A DSN as given (``postgresql://…`` or ``key=value …``), else an Airflow connection id."""
    if "://" in value or "=" in value:
        return value
    return resolve_dsn(value)


def _binary_major(path: Path) -> int | None:
    try:
        out = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"\)\s*(\d+)", out) or re.search(r"(\d+)\.\d+", out)
    return int(m.group(1)) if m else None


def _candidate_dirs() -> list[Path]:
    dirs = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if p.is_dir()]
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        if entry:
            dirs.append(Path(entry))
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from pgserver._commands import POSTGRES_BIN_PATH  # type: ignore

        dirs.append(Path(POSTGRES_BIN_PATH))
    except Exception:  # the wheel is optional
        pass
    return dirs


def find_client(name: str, server_major: int) -> tuple[Path, int]:
    """``name`` (pg_dump, psql) of the server's major version, else the newest one that is newer."""
    found: dict[Path, int] = {}
    for d in _candidate_dirs():
        path = (d / name).resolve() if (d / name).exists() else None
        if path and path not in found:
            major = _binary_major(path)
            if major:
                found[path] = major
    usable = sorted(((m == server_major, m, p) for p, m in found.items() if m >= server_major), reverse=True)
    if not usable:
        have = ", ".join(f"{p} ({m})" for p, m in found.items()) or "none"
        raise MigrationError(f"{name} {server_major} or newer is needed for a PostgreSQL {server_major} source; "
                             f"found: {have}. Install postgresql-client-{server_major} (or newer).")
    return usable[0][2], usable[0][1]


def _client_env(dsn: str) -> tuple[str, dict[str, str]]:
    """DSN without the password (it goes to PGPASSWORD, never onto a command line)."""
    params = psycopg.conninfo.conninfo_to_dict(dsn)
    env = dict(os.environ)
    password = params.pop("password", None)
    if password:
        env["PGPASSWORD"] = str(password)
    return psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in params.items()}), env


# ---------------------------------------------------------------------------------------
# catalog reads


def application_schemas(conn: psycopg.Connection, cfg: MigrationConfig) -> list[str]:
    rows = fetch_all(conn, """
        SELECT nspname FROM pg_namespace
        WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
          AND nspname NOT LIKE 'pg\\_temp\\_%%' AND nspname NOT LIKE 'pg\\_toast\\_temp\\_%%'
          AND nspname <> %s
        ORDER BY nspname""", (cfg.state_schema,))
    return [r["nspname"] for r in rows]


def target_contents(conn: psycopg.Connection) -> list[str]:
    """What makes a database non-empty: user schemas besides public, relations, functions."""
    rows = fetch_all(conn, """
        WITH user_ns AS (
            SELECT oid, nspname FROM pg_namespace
            WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
              AND nspname NOT LIKE 'pg\\_temp\\_%' AND nspname NOT LIKE 'pg\\_toast\\_temp\\_%'
        ), ext AS (SELECT objid FROM pg_depend WHERE deptype = 'e')
        SELECT 'schema ' || nspname AS what FROM user_ns
         WHERE nspname <> 'public' AND oid NOT IN (SELECT objid FROM ext)
        UNION ALL
        SELECT CASE c.relkind WHEN 'r' THEN 'table ' WHEN 'p' THEN 'table ' WHEN 'v' THEN 'view '
                              WHEN 'm' THEN 'materialized view ' WHEN 'S' THEN 'sequence ' ELSE 'relation ' END
               || n.nspname || '.' || c.relname
        FROM pg_class c JOIN user_ns n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND c.oid NOT IN (SELECT objid FROM ext)
        UNION ALL
        SELECT 'function ' || p.oid::regprocedure::text
        FROM pg_proc p JOIN user_ns n ON n.oid = p.pronamespace
        WHERE p.oid NOT IN (SELECT objid FROM ext)
        ORDER BY 1 LIMIT 6""")
    return [r["what"] for r in rows]


_ROLES_SQL = """
WITH nsp AS (SELECT oid FROM pg_namespace WHERE nspname = ANY(%(schemas)s)),
refs AS (
    SELECT nspowner AS r FROM pg_namespace WHERE oid IN (SELECT oid FROM nsp)
    UNION SELECT relowner FROM pg_class WHERE relnamespace IN (SELECT oid FROM nsp)
    UNION SELECT proowner FROM pg_proc WHERE pronamespace IN (SELECT oid FROM nsp)
    UNION SELECT typowner FROM pg_type WHERE typnamespace IN (SELECT oid FROM nsp)
    UNION SELECT (aclexplode(nspacl)).grantee FROM pg_namespace WHERE oid IN (SELECT oid FROM nsp) AND nspacl IS NOT NULL
    UNION SELECT (aclexplode(relacl)).grantee FROM pg_class WHERE relnamespace IN (SELECT oid FROM nsp) AND relacl IS NOT NULL
    UNION SELECT (aclexplode(proacl)).grantee FROM pg_proc WHERE pronamespace IN (SELECT oid FROM nsp) AND proacl IS NOT NULL
    UNION SELECT (aclexplode(typacl)).grantee FROM pg_type WHERE typnamespace IN (SELECT oid FROM nsp) AND typacl IS NOT NULL
    UNION SELECT (aclexplode(a.attacl)).grantee FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
          WHERE c.relnamespace IN (SELECT oid FROM nsp) AND a.attacl IS NOT NULL
    UNION SELECT unnest(p.polroles) FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
          WHERE c.relnamespace IN (SELECT oid FROM nsp)
    UNION SELECT defaclrole FROM pg_default_acl
    UNION SELECT (aclexplode(defaclacl)).grantee FROM pg_default_acl
    UNION SELECT pubowner FROM pg_publication
)
SELECT rolname, rolinherit, rolbypassrls
FROM pg_roles WHERE oid IN (SELECT r FROM refs) AND rolname NOT LIKE 'pg\\_%%'
ORDER BY rolname
"""


def _tables(conn: psycopg.Connection, schemas: list[str]) -> list[dict[str, Any]]:
    return fetch_all(conn, """
        SELECT c.oid, n.nspname AS schema, c.relname AS name, c.relkind, c.reltuples::bigint AS estimate,
               array(SELECT a.attname FROM pg_attribute a
                     WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
                     ORDER BY a.attnum) AS columns
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relpersistence <> 't'
          AND n.nspname = ANY(%s)
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                          AND d.objid = c.oid AND d.deptype = 'e')
        ORDER BY n.nspname, c.relname""", (schemas,))


_FKS_SQL = """
SELECT cn.nspname AS child_schema, cc.relname AS child, pn.nspname AS parent_schema, pc.relname AS parent,
       array(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.i) AS child_cols,
       array(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.i) AS parent_cols
FROM pg_constraint con
JOIN pg_class cc ON cc.oid = con.conrelid JOIN pg_namespace cn ON cn.oid = cc.relnamespace
JOIN pg_class pc ON pc.oid = con.confrelid JOIN pg_namespace pn ON pn.oid = pc.relnamespace
WHERE con.contype = 'f' AND cn.nspname = ANY(%s) AND con.conparentid = 0
"""


# ---------------------------------------------------------------------------------------
# the copy


def _check_target(src: psycopg.Connection, tgt: psycopg.Connection, source_dsn: str, target_dsn: str) -> None:
    if source_dsn.strip() == target_dsn.strip() or same_database(database_identity(src), database_identity(tgt)):
        raise CopyRefused(f"the target {redact(target_dsn)} is the source database itself: "
                          "rehearsal-copy needs a separate, empty staging database")
    found = target_contents(tgt)
    if found:
        raise CopyRefused(f"the target {redact(target_dsn)} is not empty (it has {', '.join(found[:5])}"
                          f"{', …' if len(found) > 5 else ''}): rehearsal-copy only fills an empty database; "
                          "create a new one (CREATE DATABASE …) or drop it first")


def _create_roles(src: psycopg.Connection, tgt: psycopg.Connection, schemas: list[str],
                  report: CopyReport) -> None:
    needed = fetch_all(src, _ROLES_SQL, {"schemas": schemas})
    existing = {r["rolname"] for r in fetch_all(tgt, "SELECT rolname FROM pg_roles")}
    me = fetch_one(tgt, "SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user")
    missing = [r for r in needed if r["rolname"] not in existing]
    if missing and not (me["rolsuper"] or me["rolcreaterole"]):
        raise MigrationError("the target lacks the roles " + ", ".join(r["rolname"] for r in missing)
                             + " and the target user may not create roles (needs CREATEROLE): create them first")
    for r in missing:
        opts = ["NOLOGIN", "INHERIT" if r["rolinherit"] else "NOINHERIT"]
        if r["rolbypassrls"]:
            if me["rolsuper"]:
                opts.append("BYPASSRLS")
            else:
                report.warnings.append(f"role {r['rolname']} has BYPASSRLS in the source; only a superuser may "
                                       "grant it, so the copy's role does not")
        try:
            with tgt.transaction():
                tgt.execute(sql.SQL("CREATE ROLE {} " + " ".join(opts)).format(sql.Identifier(r["rolname"])))
            report.roles_created.append(r["rolname"])
        except psycopg.errors.DuplicateObject:  # created concurrently (roles are cluster-wide)
            pass
    names = [r["rolname"] for r in needed]
    for m in fetch_all(src, """
            SELECT r.rolname AS role, m.rolname AS member FROM pg_auth_members a
            JOIN pg_roles r ON r.oid = a.roleid JOIN pg_roles m ON m.oid = a.member
            WHERE r.rolname = ANY(%s) AND m.rolname = ANY(%s)""", (names, names)):
        if m["member"] in report.roles_created or m["role"] in report.roles_created:
            with tgt.transaction():
                tgt.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(m["role"]), sql.Identifier(m["member"])))


def _dump_schema(source_dsn: str, target_dsn: str, snapshot: str, schemas: list[str], server_major: int,
                 cfg: MigrationConfig, keep_owners: bool, publications: bool, report: CopyReport) -> None:
    pg_dump, major = find_client("pg_dump", server_major)
    # psql must understand what this pg_dump writes (e.g. \restrict in recent minor releases): its sibling.
    psql = pg_dump.parent / "psql"
    if not psql.exists():
        psql, _ = find_client("psql", major)
    report.pg_dump = f"pg_dump {major} at {pg_dump}"
    src_dsn, src_env = _client_env(source_dsn)
    tgt_dsn, tgt_env = _client_env(target_dsn)
    cmd = [str(pg_dump), "--schema-only", "--no-subscriptions", "--no-tablespaces", f"--snapshot={snapshot}",
           f"--exclude-schema={cfg.state_schema}", f"--dbname={src_dsn}"]
    if not keep_owners:
        cmd.append("--no-owner")
    if not publications:
        cmd.append("--no-publications")
    dump = subprocess.run(cmd, capture_output=True, env=src_env)
    if dump.returncode != 0:
        raise MigrationError(f"pg_dump of the source schema failed: {dump.stderr.decode(errors='replace').strip()[-2000:]}")
    load = subprocess.run([str(psql), "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction",
                           f"--dbname={tgt_dsn}"], input=dump.stdout, capture_output=True, env=tgt_env)
    if load.returncode != 0:
        raise MigrationError("loading the schema into the target failed (nothing of it was kept: one transaction): "
                             + load.stderr.decode(errors="replace").strip()[-2000:])


def _stream(src: psycopg.Connection, tgt: psycopg.Connection, select: sql.Composable, table: sql.Composable,
            columns: list[str]) -> int:
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    with src.cursor() as scur, tgt.cursor() as tcur:
        with scur.copy(sql.SQL("COPY ({}) TO STDOUT").format(select)) as out, \
                tcur.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(table, cols)) as into:
            for chunk in out:
                into.write(chunk)
        return max(tcur.rowcount, 0)


def _prune_orphans(tgt: psycopg.Connection, schemas: list[str], sampled: set[str], report: CopyReport) -> None:
    """Delete rows whose foreign keys point at rows the sample left out, until every FK holds."""
    fks = fetch_all(tgt, _FKS_SQL, (schemas,))
    dirty = set(sampled)
    while dirty:
        changed: set[str] = set()
        for fk in fks:
            parent = f"{fk['parent_schema']}.{fk['parent']}"
            child = f"{fk['child_schema']}.{fk['child']}"
            if parent not in dirty:
                continue
            not_null = sql.SQL(" AND ").join(sql.SQL("c.{} IS NOT NULL").format(sql.Identifier(c))
                                             for c in fk["child_cols"])
            match = sql.SQL(" AND ").join(sql.SQL("p.{} = c.{}").format(sql.Identifier(p), sql.Identifier(c))
                                          for p, c in zip(fk["parent_cols"], fk["child_cols"]))
            with tgt.cursor() as cur:
                cur.execute(sql.SQL("DELETE FROM {} c WHERE {} AND NOT EXISTS (SELECT 1 FROM {} p WHERE {})").format(
                    sql.Identifier(fk["child_schema"], fk["child"]), not_null,
                    sql.Identifier(fk["parent_schema"], fk["parent"]), match))
                if cur.rowcount > 0:
                    report.pruned[child] = report.pruned.get(child, 0) + cur.rowcount
                    changed.add(child)
        dirty = changed


def rehearsal_copy(source_dsn: str, target_dsn: str, *, sample_rows: int, max_table_rows: int = DEFAULT_MAX_TABLE_ROWS,
                   publications: bool = True, cfg: MigrationConfig | None = None,
                   progress: Callable[[str], None] | None = None) -> CopyReport:
    """Copy the application schema and a consistent sample of rows from ``source_dsn`` into ``target_dsn``.

    :param sample_rows: how many rows of the source table (activity_logs) to copy
    :param max_table_rows: other tables up to this size are copied whole, bigger ones sampled to it
    :param publications: also create the source's publications on the target
    :raises CopyRefused: the target is the source or is not empty
    """
    cfg = cfg or load_config()
    if sample_rows < 0 or max_table_rows < 1:
        raise MigrationError(f"sample_rows must be >= 0 and max_table_rows >= 1, got {sample_rows}, {max_table_rows}")
    say = progress or (lambda _msg: None)
    started = time.monotonic()
    report = CopyReport(source=redact(source_dsn), target=redact(target_dsn))
    src = connect(source_dsn)
    tgt = connect(target_dsn, autocommit=True)
    try:
        _check_target(src, tgt, source_dsn, target_dsn)
        src.rollback()
        # One snapshot for the schema dump and every read.
        src.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        snapshot = scalar(src, "SELECT pg_export_snapshot()")
        src.execute("SET LOCAL row_security = off")  # a policy hiding rows must fail loudly, not thin the copy
        server_major = int(scalar(src, "SHOW server_version_num")) // 10000
        schemas = application_schemas(src, cfg)
        report.schemas = schemas
        me = fetch_one(tgt, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        keep_owners = bool(me["rolsuper"])
        if not keep_owners:
            report.warnings.append("the target user is not a superuser: objects are owned by it (pg_dump --no-owner), "
                                   "so owner-dependent behaviour (RLS bypass of owners, SECURITY DEFINER) may differ")
        say("roles")
        _create_roles(src, tgt, schemas, report)
        say("schema (pg_dump | psql)")
        _dump_schema(source_dsn, target_dsn, snapshot, schemas, server_major, cfg, keep_owners, publications, report)

        tables = _tables(src, schemas)
        source_name, target_name = cfg.source_table, cfg.target
        key = sql.Identifier(cfg.source.key)
        src_ident = sql.Identifier(cfg.source.schema, cfg.source.table)
        sample_order = sql.SQL("ORDER BY md5({}::text) LIMIT {}").format(key, sql.Literal(sample_rows))
        sampled: set[str] = set()
        tgt.autocommit = False
        with tgt.transaction():
            try:
                tgt.execute("SET LOCAL session_replication_role = replica")
            except psycopg.errors.InsufficientPrivilege:
                raise MigrationError("the target user may not SET session_replication_role (needs superuser, or "
                                     "GRANT SET ON PARAMETER session_replication_role): without it the load would "
                                     "fire the logging triggers") from None
            for t in tables:
                name = f"{t['schema']}.{t['name']}"
                ident = sql.Identifier(t["schema"], t["name"])
                only = sql.SQL("") if t["relkind"] == "p" else sql.SQL("ONLY ")
                cols = list(t["columns"])
                col_list = sql.SQL(", ").join(sql.Identifier(c) for c in cols)
                base = sql.SQL("SELECT {} FROM {}{}").format(col_list, only, ident)
                if name == source_name:
                    select, how = sql.SQL("{} {}").format(base, sample_order), "sample"
                    sampled.add(name)
                elif name == target_name and "legacy_activity_log_id" in cols:
                    select = sql.SQL("{} WHERE legacy_activity_log_id::text IN (SELECT {}::text FROM {} {})").format(
                        base, key, src_ident, sample_order)
                    how = "linked"
                    sampled.add(name)
                else:
                    # counted, not estimated (reltuples can be stale), but never beyond the limit
                    size = scalar(src, sql.SQL("SELECT count(*) FROM (SELECT 1 FROM {}{} LIMIT {}) s").format(
                        only, ident, sql.Literal(max_table_rows + 1)))
                    if size > max_table_rows:
                        select, how = sql.SQL("{} ORDER BY random() LIMIT {}").format(base, sql.Literal(max_table_rows)), "sample"
                        sampled.add(name)
                    else:
                        select, how = base, "whole"
                say(f"data {name} ({how})")
                rows = _stream(src, tgt, select, ident, cols)
                report.tables.append(TableCopy(name, rows, how))
            if sampled:
                _prune_orphans(tgt, schemas, sampled, report)
            for seq in fetch_all(src, """
                    SELECT schemaname, sequencename, last_value FROM pg_sequences
                    WHERE schemaname = ANY(%s) AND last_value IS NOT NULL""", (schemas,)):
                tgt.execute("SELECT setval(%s::regclass, %s, true)",
                            (sql.Identifier(seq["schemaname"], seq["sequencename"]).as_string(tgt), seq["last_value"]))
                report.sequences += 1
        tgt.autocommit = True
        src.rollback()
        _refresh_matviews(src, tgt, schemas, report)
        for t in report.tables:
            schema, name = t.table.split(".", 1)
            tgt.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(schema, name)))
    finally:
        src.close()
        tgt.close()
    report.seconds = time.monotonic() - started
    return report


def _refresh_matviews(src: psycopg.Connection, tgt: psycopg.Connection, schemas: list[str], report: CopyReport) -> None:
    views = fetch_all(src, """
        SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'm' AND c.relispopulated AND n.nspname = ANY(%s) ORDER BY c.oid""", (schemas,))
    pending = list(views)
    for _ in range(len(views) + 1):  # a view over another view refreshes once its base did
        failed = []
        for v in pending:
            try:
                tgt.execute(sql.SQL("REFRESH MATERIALIZED VIEW {}").format(sql.Identifier(v["schema"], v["name"])))
                report.matviews.append(f"{v['schema']}.{v['name']}")
            except psycopg.Error:
                failed.append(v)
        if not failed or len(failed) == len(pending):
            pending = failed
            break
        pending = failed
    for v in pending:
        report.warnings.append(f"materialized view {v['schema']}.{v['name']} could not be refreshed on the target")


def fingerprint(conn: psycopg.Connection, schemas: list[str]) -> str:
    """A digest of the triggers, functions and policies of ``schemas`` (for quick comparisons)."""
    rows = fetch_all(conn, """
        SELECT 't' AS k, pg_get_triggerdef(t.oid) AS d FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT t.tgisinternal AND n.nspname = ANY(%(s)s)
        UNION ALL
        SELECT 'f', pg_get_functiondef(p.oid) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
          WHERE n.nspname = ANY(%(s)s) AND p.prokind IN ('f', 'p')
        UNION ALL
        SELECT 'p', concat_ws('|', schemaname, tablename, policyname, permissive, roles::text, cmd, qual, with_check)
          FROM pg_policies WHERE schemaname = ANY(%(s)s)
        ORDER BY 1, 2""", {"s": schemas})
    return hashlib.sha256("\n".join(f"{r['k']}:{r['d']}" for r in rows).encode()).hexdigest()
