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

import time
from dataclasses import dataclass, field
from typing import Callable

import psycopg
from psycopg import sql

from .config import MigrationConfig, load_config
from .connections import resolve_dsn
from .db import connect, fetch_row, redact, scalar
from .errors import MigrationError
from .rehearsal import database_identity, same_database
from .rehearsal_copy_catalog import application_schemas, copyable_tables, target_contents
from .rehearsal_copy_data import (
    analyze_copied_tables,
    copy_sequence_values,
    prune_orphans,
    refresh_matviews,
    stream_rows,
    table_select,
)
from .rehearsal_copy_schema import create_missing_roles, dump_schema

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
        lines = [
            f"rehearsal-copy {self.source} -> {self.target} ({self.seconds:.1f} s, {self.pg_dump})",
            f"schemas: {', '.join(self.schemas)}",
            f"roles created (NOLOGIN): {', '.join(self.roles_created) or 'none (all exist on the target)'}",
        ]
        lines.append("tables:")
        for t in self.tables:
            pruned = self.pruned.get(t.table, 0)
            extra = f", {pruned} removed as orphans" if pruned else ""
            lines.append(f"  {t.table}: {t.rows - pruned} rows ({t.how}{extra})")
        lines.append(
            f"sequences set: {self.sequences}; materialized views refreshed: "
            f"{', '.join(self.matviews) or 'none'}"
        )
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# endpoints


def resolve_endpoint(value: str) -> str:
    """A DSN as given (``postgresql://…`` or ``key=value …``), else an Airflow connection id."""
    if "://" in value or "=" in value:
        return value
    return resolve_dsn(value)


# ---------------------------------------------------------------------------------------
# the copy


def _check_target(src: psycopg.Connection, tgt: psycopg.Connection, source_dsn: str, target_dsn: str) -> None:
    if source_dsn.strip() == target_dsn.strip() or same_database(
        database_identity(src), database_identity(tgt)
    ):
        raise CopyRefused(
            f"the target {redact(target_dsn)} is the source database itself: "
            "rehearsal-copy needs a separate, empty staging database"
        )
    found = target_contents(tgt)
    if found:
        raise CopyRefused(
            f"the target {redact(target_dsn)} is not empty (it has {', '.join(found[:5])}"
            f"{', …' if len(found) > 5 else ''}): rehearsal-copy only fills an empty database; "
            "create a new one (CREATE DATABASE …) or drop it first"
        )


def rehearsal_copy(
    source_dsn: str,
    target_dsn: str,
    *,
    sample_rows: int,
    max_table_rows: int = DEFAULT_MAX_TABLE_ROWS,
    publications: bool = True,
    cfg: MigrationConfig | None = None,
    progress: Callable[[str], None] | None = None,
) -> CopyReport:
    """Fill ``target_dsn`` with the application schema and a consistent sample of rows of ``source_dsn``.

    :param sample_rows: how many rows of the source table (activity_logs) to copy
    :param max_table_rows: other tables up to this size are copied whole, bigger ones sampled to it
    :param publications: also create the source's publications on the target
    :raises CopyRefused: the target is the source or is not empty
    """
    cfg = cfg or load_config()
    if sample_rows < 0 or max_table_rows < 1:
        raise MigrationError(
            f"sample_rows must be >= 0 and max_table_rows >= 1, got {sample_rows}, {max_table_rows}"
        )
    say = progress or (lambda _msg: None)
    started = time.monotonic()
    report = CopyReport(source=redact(source_dsn), target=redact(target_dsn))
    src = connect(source_dsn)
    tgt = connect(target_dsn, autocommit=True)
    try:
        _check_target(src, tgt, source_dsn, target_dsn)
        snapshot, server_major = _open_source_snapshot(src)
        schemas = application_schemas(src, cfg)
        report.schemas = schemas
        keep_owners = _target_keeps_owners(tgt, report)
        say("roles")
        create_missing_roles(src, tgt, schemas, report)
        say("schema (pg_dump | psql)")
        dump_schema(
            source_dsn, target_dsn, snapshot, schemas, server_major, cfg, keep_owners, publications, report
        )
        _load_rows(src, tgt, schemas, cfg, sample_rows, max_table_rows, say, report)
        src.rollback()
        refresh_matviews(src, tgt, schemas, report)
        analyze_copied_tables(tgt, report)
    finally:
        src.close()
        tgt.close()
    report.seconds = time.monotonic() - started
    return report


def _open_source_snapshot(src: psycopg.Connection) -> tuple[str, int]:
    """Open the source's one REPEATABLE READ, READ ONLY transaction (row security off) and export
    its snapshot, for the schema dump and every read; returns it and the server's major version."""
    src.rollback()
    src.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    snapshot = scalar(src, "SELECT pg_export_snapshot()")
    src.execute("SET LOCAL row_security = off")  # a policy hiding rows must fail loudly, not thin the copy
    server_major = int(scalar(src, "SHOW server_version_num")) // 10000
    return snapshot, server_major


def _target_keeps_owners(tgt: psycopg.Connection, report: CopyReport) -> bool:
    """Whether the copy keeps the source's owners: only a superuser target user may."""
    me = fetch_row(tgt, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    keep_owners = bool(me["rolsuper"])
    if not keep_owners:
        report.warnings.append(
            "the target user is not a superuser: objects are owned by it (pg_dump --no-owner), "
            "so owner-dependent behaviour (RLS bypass of owners, SECURITY DEFINER) may differ"
        )
    return keep_owners


def _load_rows(
    src: psycopg.Connection,
    tgt: psycopg.Connection,
    schemas: list[str],
    cfg: MigrationConfig,
    sample_rows: int,
    max_table_rows: int,
    say: Callable[[str], None],
    report: CopyReport,
) -> None:
    """Every table's rows, orphan pruning and sequence values, in one target transaction that
    fires no trigger (``session_replication_role = replica``)."""
    tables = copyable_tables(src, schemas)
    sampled: set[str] = set()
    tgt.autocommit = False
    with tgt.transaction():
        try:
            tgt.execute("SET LOCAL session_replication_role = replica")
        except psycopg.errors.InsufficientPrivilege:
            raise MigrationError(
                "the target user may not SET session_replication_role (needs superuser, or "
                "GRANT SET ON PARAMETER session_replication_role): without it the load would "
                "fire the logging triggers"
            ) from None
        for t in tables:
            name = f"{t['schema']}.{t['name']}"
            select, how = table_select(src, t, cfg, sample_rows, max_table_rows)
            if how != "whole":
                sampled.add(name)
            say(f"data {name} ({how})")
            rows = stream_rows(src, tgt, select, sql.Identifier(t["schema"], t["name"]), list(t["columns"]))
            report.tables.append(TableCopy(name, rows, how))
        if sampled:
            prune_orphans(tgt, schemas, sampled, report)
        copy_sequence_values(src, tgt, schemas, report)
    tgt.autocommit = True
