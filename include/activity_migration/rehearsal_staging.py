"""A rehearsal's evidence as read from the databases: which database a connection is, the
staging ledger's rows as evidence, and why no staging run counts as a rehearsal."""

from __future__ import annotations

import re
import subprocess
from typing import Any

import psycopg

from .db import PROJECT_ROOT, fetch_one, fetch_row, load_sql
from .rehearsal_evidence import days_text, iso_utc, when_utc


def _version_relation(recorded: str | None, current: str) -> str:
    """'older project version' when git knows ``recorded`` is an ancestor of ``current``."""
    if not recorded:
        return "no project version recorded"

    def commit(v: str) -> str:
        return v.removesuffix("-dirty")

    a, b = commit(recorded), commit(current)
    if re.fullmatch(r"[0-9a-f]{6,40}", a) and re.fullmatch(r"[0-9a-f]{6,40}", b):
        try:
            out = subprocess.run(
                ["git", "merge-base", "--is-ancestor", a, b], cwd=PROJECT_ROOT, capture_output=True, timeout=5
            )
            if out.returncode == 0 and a != b:
                return "older project version"
            back = subprocess.run(
                ["git", "merge-base", "--is-ancestor", b, a], cwd=PROJECT_ROOT, capture_output=True, timeout=5
            )
            if back.returncode == 0 and a != b:
                return "newer project version"
        except (OSError, subprocess.SubprocessError):
            pass
    return "different project version"


def _row_summary(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "ledger_id": row["id"],
        "phase": row["phase"],
        "step": row["step"],
        "status": row["status"],
        "environment": row["environment"],
        "mode": row["mode"],
        "project_version": row["project_version"],
        "dag_run_id": row["dag_run_id"],
        "actor": row["actor"],
        "started_at": iso_utc(row["started_at"]),
        "finished_at": iso_utc(row["finished_at"]),
    }


def database_identity(conn: psycopg.Connection) -> dict[str, Any]:
    """Which database ``conn`` is: cluster system identifier (when readable) and name."""
    ident = None
    try:
        with conn.transaction():
            ident = fetch_row(conn, "SELECT system_identifier::text AS s FROM pg_control_system()")["s"]
    except psycopg.Error:
        ident = None
    row = fetch_row(conn, load_sql("rehearsal/01_select_database_identity.sql"))
    return {
        "system_identifier": ident,
        "database": row["db"],
        "host": conn.info.host,
        "server_addr": row["addr"],
        "port": row["port"] or conn.info.port,
    }


def same_database(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """True when two ``database_identity`` results name the same database of the same cluster."""
    if a["database"] != b["database"]:
        return False
    if a["system_identifier"] and b["system_identifier"]:
        return a["system_identifier"] == b["system_identifier"]
    # Without the system identifier: same host/port (a unix socket reports no address).
    return (a["server_addr"], a["port"], a["host"]) == (b["server_addr"], b["port"], b["host"])


def _why_no_rehearsal(
    staging_conn: psycopg.Connection, verdict: dict[str, Any], t_ledger: Any, normal_only: bool
) -> str:
    """Why no staging run counts (the newest staging run, else a run recorded elsewhere); keeps the
    newest staging run in the verdict."""
    phase, step, version = verdict["phase"], verdict["rehearsed_step"], verdict["project_version"]
    max_age_days = verdict["max_age_days"]
    newest = fetch_one(
        staging_conn,
        load_sql("rehearsal/03_select_newest_staging_run.sql", ledger=t_ledger),
        {"max_age_secs": max_age_days * 86400, "phase": phase, "step": step},
    )
    verdict["newest_staging_run"] = _row_summary(newest)
    if newest is None:
        other = fetch_one(
            staging_conn,
            load_sql("rehearsal/06_select_newest_run.sql", ledger=t_ledger),
            {"phase": phase, "step": step},
        )
        if other is not None:
            return (
                f"the staging database has a run of {phase}/{step} recorded as environment "
                f"{other['environment']!r} (not 'staging') on "
                f"{when_utc(other['finished_at'] or other['started_at'])}"
                ": run the phase there with environment=staging"
            )
        return f"no staging run of {phase}/{step} is recorded at all"
    reasons = []
    if newest["project_version"] != version:
        reasons.append(_version_relation(newest["project_version"], version))
    if newest["status"] != "succeeded":
        reasons.append(f"status {newest['status']}")
    if newest["too_old"]:
        reasons.append(f"older than {days_text(max_age_days)}")
    if normal_only and newest["mode"] != "normal":
        reasons.append(
            f"mode {newest['mode']}: that staging run skipped its approvals, and a normal-mode "
            "production run needs a staging rehearsal in mode normal"
        )
    return (
        f"newest staging run: version {newest['project_version']} on "
        f"{when_utc(newest['finished_at'] or newest['started_at'])} ({', '.join(reasons) or 'superseded'})"
    )
