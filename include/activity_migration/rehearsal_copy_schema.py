"""The schema half of rehearsal-copy: the roles the copied objects name, created on the target,
then ``pg_dump --schema-only | psql`` in one target transaction, with client binaries new
enough for the source server."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql

from .config import MigrationConfig
from .db import fetch_all, fetch_row, load_sql
from .errors import MigrationError

if TYPE_CHECKING:
    from .rehearsal_copy import CopyReport


# ---------------------------------------------------------------------------------------
# client binaries


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
            from pgserver._commands import POSTGRES_BIN_PATH

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
        raise MigrationError(
            f"{name} {server_major} or newer is needed for a PostgreSQL {server_major} source; "
            f"found: {have}. Install postgresql-client-{server_major} (or newer)."
        )
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
# roles


def create_missing_roles(
    src: psycopg.Connection, tgt: psycopg.Connection, schemas: list[str], report: CopyReport
) -> None:
    """Every role the copied objects name that the target cluster lacks is created NOLOGIN; the
    memberships that involve a role created here are copied."""
    needed = fetch_all(src, load_sql("rehearsal/09_select_referenced_roles.sql"), {"schemas": schemas})
    existing = {r["rolname"] for r in fetch_all(tgt, "SELECT rolname FROM pg_roles")}
    me = fetch_row(tgt, "SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user")
    missing = [r for r in needed if r["rolname"] not in existing]
    if missing and not (me["rolsuper"] or me["rolcreaterole"]):
        raise MigrationError(
            "the target lacks the roles "
            + ", ".join(r["rolname"] for r in missing)
            + " and the target user may not create roles (needs CREATEROLE): create them first"
        )
    for r in missing:
        opts = ["NOLOGIN", "INHERIT" if r["rolinherit"] else "NOINHERIT"]
        if r["rolbypassrls"]:
            if me["rolsuper"]:
                opts.append("BYPASSRLS")
            else:
                report.warnings.append(
                    f"role {r['rolname']} has BYPASSRLS in the source; only a superuser may "
                    "grant it, so the copy's role does not"
                )
        try:
            with tgt.transaction():
                tgt.execute(sql.SQL("CREATE ROLE {} " + " ".join(opts)).format(sql.Identifier(r["rolname"])))
            report.roles_created.append(r["rolname"])
        except psycopg.errors.DuplicateObject:  # created concurrently (roles are cluster-wide)
            pass
    names = [r["rolname"] for r in needed]
    for m in fetch_all(src, load_sql("rehearsal/10_select_role_memberships.sql"), {"roles": names}):
        if m["member"] in report.roles_created or m["role"] in report.roles_created:
            with tgt.transaction():
                tgt.execute(
                    sql.SQL("GRANT {} TO {}").format(sql.Identifier(m["role"]), sql.Identifier(m["member"]))
                )


# ---------------------------------------------------------------------------------------
# the schema


def dump_schema(
    source_dsn: str,
    target_dsn: str,
    snapshot: str,
    schemas: list[str],
    server_major: int,
    cfg: MigrationConfig,
    keep_owners: bool,
    publications: bool,
    report: CopyReport,
) -> None:
    """``pg_dump --schema-only`` of the source at ``snapshot``, loaded by ``psql --single-transaction``."""
    pg_dump, major = find_client("pg_dump", server_major)
    # psql must understand what this pg_dump writes (e.g. \restrict in recent minor releases): its sibling.
    psql = pg_dump.parent / "psql"
    if not psql.exists():
        psql, _ = find_client("psql", major)
    report.pg_dump = f"pg_dump {major} at {pg_dump}"
    src_dsn, src_env = _client_env(source_dsn)
    tgt_dsn, tgt_env = _client_env(target_dsn)
    cmd = [
        str(pg_dump),
        "--schema-only",
        "--no-subscriptions",
        "--no-tablespaces",
        f"--snapshot={snapshot}",
        f"--exclude-schema={cfg.state_schema}",
        f"--dbname={src_dsn}",
    ]
    if not keep_owners:
        cmd.append("--no-owner")
    if not publications:
        cmd.append("--no-publications")
    dump = subprocess.run(cmd, capture_output=True, env=src_env)
    if dump.returncode != 0:
        raise MigrationError(
            f"pg_dump of the source schema failed: {dump.stderr.decode(errors='replace').strip()[-2000:]}"
        )
    load = subprocess.run(
        [str(psql), "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction", f"--dbname={tgt_dsn}"],
        input=dump.stdout,
        capture_output=True,
        env=tgt_env,
    )
    if load.returncode != 0:
        raise MigrationError(
            "loading the schema into the target failed (nothing of it was kept: one transaction): "
            + load.stderr.decode(errors="replace").strip()[-2000:]
        )
