"""Realtime load watched against the plan's quota (docs/event-types-and-realtime.md).

Phase 3 adds ``events`` to the ``supabase_realtime`` publication. What that costs is read here,
from the database only:

- **replication slots** (``pg_replication_slots``, ``pg_stat_replication_slots``): the WAL each
  retains and the part its consumer has not confirmed (lag); judged by retained bytes
  (``realtime.slot_warning_bytes`` / ``slot_critical_bytes``); a slot whose WAL is ``lost`` or
  ``unreserved`` is critical;
- **subscriptions** (``realtime.subscription``, where Supabase Realtime is installed): distinct
  clients, compared with the plan's concurrent connections (a lower bound of the connections:
  clients using only broadcast or presence are not in that table);
- **messages per second** of ``events``: the busiest minute of inserts within
  ``change_rate_hours`` times the subscriptions that receive each change (those without a
  filter, plus one per distinct filter set: an estimate), compared with the plan's messages
  per second.

Each finding is ``ok``, ``warning`` (``warning_ratio`` of a quota), ``critical``
(``critical_ratio``) or ``not_measurable`` with the reason (``wal_level`` below ``logical``,
no ``realtime`` schema, no privilege): never a crash, never a silent pass.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from .config import MigrationConfig
from .db import connection, fetch_all, fetch_one, load_sql, scalar

log = logging.getLogger(__name__)

LEVELS = ("not_measurable", "ok", "warning", "critical")
_RANK = {name: i for i, name in enumerate(LEVELS)}
REALTIME_TABLE = "realtime.subscription"


@dataclass
class Finding:
    check: str  # slot | connections | messages_per_second
    level: str
    subject: str  # the slot's name, the publication, ...
    message: str
    value: float | None = None
    limit: float | None = None
    limit_source: str | None = None


@dataclass
class RealtimeReport:
    level: str
    findings: list[Finding]
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.level != "critical"

    def at_least(self, level: str) -> list[Finding]:
        return [f for f in self.findings if _RANK[f.level] >= _RANK[level] and f.level != "not_measurable"]

    def not_measurable(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "not_measurable"]

    def summary(self) -> str:
        return f"realtime {self.level}: " + "; ".join(
            f"{f.check} {f.subject}: {f.level} ({f.message})" for f in self.findings
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "passed": self.passed,
            "findings": [asdict(f) for f in self.findings],
            "figures": self.figures,
        }


def _size(n: float | None) -> str:
    if n is None:
        return "unknown"
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def _level(value: float, limit: float, cfg: MigrationConfig) -> str:
    rt = cfg.realtime
    if value >= limit * float(rt.critical_ratio):
        return "critical"
    if value >= limit * float(rt.warning_ratio):
        return "warning"
    return "ok"


def _remedy(cfg: MigrationConfig) -> str:
    stmt = f"ALTER PUBLICATION {cfg.realtime.publication} DROP TABLE {cfg.target}"
    return (
        f"what to do: disable the publication for events ({stmt}; phase 3's rollback does it too) "
        "or raise the plan (realtime.plan in the config, then the Supabase plan)"
    )


# ------------------------------------------------------------------------------ slots
def _slot_finding(slot: dict[str, Any], cfg: MigrationConfig) -> Finding:
    rt = cfg.realtime
    name, retained = slot["slot_name"], slot["retained_bytes"]
    desc = (
        f"{slot['slot_type']}{', ' + slot['plugin'] if slot['plugin'] else ''}, "
        f"{'active' if slot['active'] else 'inactive'}, wal_status {slot['wal_status']}"
    )
    lag = "" if slot["lag_bytes"] is None else f"; unconfirmed by its consumer: {_size(slot['lag_bytes'])}"
    if slot["wal_status"] in ("lost", "unreserved"):
        return Finding(
            "slot",
            "critical",
            name,
            f"replication slot {name!r} ({desc}): its WAL is "
            f"{slot['wal_status']} "
            f"(max_slot_wal_keep_size reached); its consumer cannot catch up. {_remedy(cfg)}; or "
            "drop "
            f"the slot if nothing consumes it (SELECT pg_drop_replication_slot('{name}'))",
        )
    if retained is None:
        return Finding("slot", "ok", name, f"replication slot {name!r} ({desc}) reserves no WAL yet")
    level = "ok"
    limit, key = rt.slot_warning_bytes, "realtime.slot_warning_bytes"
    if retained >= rt.slot_critical_bytes:
        level, limit, key = "critical", rt.slot_critical_bytes, "realtime.slot_critical_bytes"
    elif retained >= rt.slot_warning_bytes:
        level = "warning"
    if level == "ok":
        msg = f"replication slot {name!r} ({desc}) retains {_size(retained)} of WAL{lag}"
    else:
        msg = (
            f"replication slot {name!r} ({desc}) retains {_size(retained)} of WAL "
            f"({retained} bytes){lag}, "
            "over "
            f"the {level} limit {_size(limit)} ({limit} bytes, {key}). {_remedy(cfg)}; a slot nothing "
            "consumes "
            f"any more: drop it (SELECT pg_drop_replication_slot('{name}'))"
        )
    return Finding("slot", level, name, msg, float(retained), float(limit), key)


def slot_findings(
    conn: psycopg.Connection, cfg: MigrationConfig, wal_level: str
) -> tuple[list[Finding], list]:
    slots = fetch_all(conn, load_sql("realtime/01_select_replication_slots.sql"))
    if slots:
        return [_slot_finding(s, cfg) for s in slots], slots
    if wal_level != "logical":
        return [
            Finding(
                "slot",
                "not_measurable",
                "server",
                f"not measurable: wal_level = {wal_level} (logical decoding, which Supabase Realtime "
                "streams changes with, needs wal_level = logical) and no replication slot "
                "exists",
            )
        ], []
    return [Finding("slot", "ok", "server", "no replication slot on this database: nothing retains WAL")], []


# ------------------------------------------------------------------------------ subscriptions and messages
def subscription_figures(conn: psycopg.Connection) -> tuple[list[dict[str, Any]] | None, str | None]:
    """Rows of 02_count_realtime_subscriptions.sql, or (None, why not measurable)."""
    if not scalar(conn, "SELECT to_regclass(%s) IS NOT NULL", (REALTIME_TABLE,)):
        return None, (
            "not measurable: no realtime.subscription table on this database (Supabase Realtime is "
            "not "
            "installed here)"
        )
    try:
        with conn.transaction():
            return fetch_all(conn, load_sql("realtime/02_count_realtime_subscriptions.sql")), None
    except psycopg.errors.InsufficientPrivilege as exc:
        return None, (
            "not measurable: the migration's role may not read realtime.subscription "
            f"({exc.diag.message_primary})"
        )


def connection_finding(
    rows: list[dict[str, Any]] | None, why: str | None, conn: psycopg.Connection, cfg: MigrationConfig
) -> Finding:
    rt = cfg.realtime
    if rows is None:
        return Finding("connections", "not_measurable", REALTIME_TABLE, why or "not measurable")
    clients = int(scalar(conn, "SELECT count(DISTINCT subscription_id) FROM realtime.subscription") or 0)
    limit = rt.connections_limit
    level = _level(clients, limit, cfg)
    msg = (
        f"{clients} realtime clients subscribed (distinct subscription ids) against {limit} concurrent "
        f"connections ({rt.limit_source('concurrent_connections')})"
    )
    if level != "ok":
        ratio = rt.warning_ratio if level == "warning" else rt.critical_ratio
        msg += f": {level} at {ratio:g} of the quota. " + _remedy(cfg)
    return Finding(
        "connections",
        level,
        REALTIME_TABLE,
        msg,
        float(clients),
        float(limit),
        rt.limit_source("concurrent_connections"),
    )


_PUBLISHED = "SELECT 1 FROM pg_publication_tables WHERE pubname = %s AND schemaname = %s AND tablename = %s"


def _events_published(conn: psycopg.Connection, cfg: MigrationConfig) -> bool:
    return bool(scalar(conn, _PUBLISHED, (cfg.realtime.publication, cfg.target_schema, cfg.target_table)))


def _receivers(rows: list[dict[str, Any]] | None, events_oid: int | None) -> float:
    """Subscriptions that receive one change of events (an estimate): every one without a filter,
    plus those of one filter set (filtered subscriptions / distinct filter sets); at least 1."""
    row = next((r for r in rows or [] if r["entity_oid"] == events_oid), None)
    if row is None:
        return 1.0
    filtered = float(row["subscriptions"] - row["unfiltered"])
    return max(1.0, float(row["unfiltered"]) + (filtered / row["filter_sets"] if row["filter_sets"] else 0.0))


def _unmeasured_messages(
    conn: psycopg.Connection, cfg: MigrationConfig, wal_level: str, events_oid: int | None, subject: str
) -> Finding | None:
    """The finding when the message rate cannot be measured or does not apply, else None."""
    if events_oid is None:
        why = f"not measurable: {cfg.target} does not exist yet"
    elif wal_level != "logical":
        why = f"not measurable: wal_level = {wal_level}, so Realtime cannot stream changes from this server"
    elif not _events_published(conn, cfg):
        why = f"{cfg.target} is not in publication {cfg.realtime.publication}: Realtime does not stream it"
        return Finding("messages_per_second", "ok", subject, why)
    else:
        return None
    return Finding("messages_per_second", "not_measurable", subject, why)


def _change_rate(conn: psycopg.Connection, cfg: MigrationConfig) -> dict[str, Any]:
    query = load_sql(
        "realtime/03_measure_event_change_rate.sql",
        events=sql.Identifier(cfg.target_schema, cfg.target_table),
    )
    return fetch_one(conn, query, {"seconds": float(cfg.realtime.change_rate_hours) * 3600}) or {}


def message_finding(
    conn: psycopg.Connection, cfg: MigrationConfig, wal_level: str, rows: list[dict[str, Any]] | None
) -> tuple[Finding, dict[str, Any]]:
    rt, subject = cfg.realtime, f"{cfg.target} in {cfg.realtime.publication}"
    events_oid = scalar(
        conn,
        "SELECT to_regclass(format('%%I.%%I', %s::text, %s::text))::oid",
        (cfg.target_schema, cfg.target_table),
    )
    unmeasured = _unmeasured_messages(conn, cfg, wal_level, events_oid, subject)
    if unmeasured is not None:
        return unmeasured, {}
    rate = _change_rate(conn, cfg)
    per_second = float(rate.get("busiest_minute_changes") or 0) / 60.0
    receivers = _receivers(rows, events_oid)
    estimate = per_second * receivers
    limit = rt.messages_limit
    level = _level(estimate, limit, cfg)
    msg = (
        f"about {estimate:.1f} messages/s ({per_second:.2f} changes/s in the busiest minute of the last "
        f"{rt.change_rate_hours:g} h x {receivers:.0f} receiving subscriptions) "
        f"against {limit} messages/s "
        f"({rt.limit_source('messages_per_second')})"
    )
    if level != "ok":
        msg += f": {level}. " + _remedy(cfg)
    figures = {
        "busiest_minute_changes": rate.get("busiest_minute_changes"),
        "last_minute_changes": rate.get("last_minute_changes"),
        "receivers": receivers,
        "messages_per_second_estimate": round(estimate, 3),
    }
    return Finding(
        "messages_per_second",
        level,
        subject,
        msg,
        round(estimate, 3),
        float(limit),
        rt.limit_source("messages_per_second"),
    ), figures


# ------------------------------------------------------------------------------ the report
def measure(conn: psycopg.Connection, cfg: MigrationConfig) -> RealtimeReport:
    """Read slots, subscriptions and the change rate; judge each against the config's limits."""
    wal_level = str(scalar(conn, "SHOW wal_level"))
    slots, slot_rows = slot_findings(conn, cfg, wal_level)
    rows, why = subscription_figures(conn)
    conns = connection_finding(rows, why, conn, cfg)
    messages, rate = message_finding(conn, cfg, wal_level, rows)
    findings = [*slots, conns, messages]
    measured = [f.level for f in findings if f.level != "not_measurable"]
    level = max(measured, key=lambda x: _RANK[x]) if measured else "not_measurable"
    figures = {
        "wal_level": wal_level,
        "plan": cfg.realtime.plan,
        "limits": {
            "concurrent_connections": cfg.realtime.connections_limit,
            "messages_per_second": cfg.realtime.messages_limit,
        },
        "slots": [
            {
                k: s[k]
                for k in (
                    "slot_name",
                    "slot_type",
                    "active",
                    "wal_status",
                    "retained_bytes",
                    "lag_bytes",
                    "total_bytes",
                )
            }
            for s in slot_rows
        ],
        "subscriptions": [
            {k: r[k] for k in ("entity", "subscriptions", "clients", "unfiltered")} for r in rows or []
        ],
        **rate,
    }
    return RealtimeReport(level, findings, figures)


def measure_dsn(dsn: str, cfg: MigrationConfig) -> RealtimeReport:
    with connection(dsn, autocommit=True) as conn:
        return measure(conn, cfg)


def critical_message(report: RealtimeReport) -> str:
    """The sensor's failure: every critical finding (each names its slot or quota and the limit)."""
    crit = report.at_least("critical")
    return f"realtime load is critical ({len(crit)} finding{'s' if len(crit) != 1 else ''}): " + " | ".join(
        f.message for f in crit
    )


def sensor_verdict(dsn: str, cfg: MigrationConfig) -> tuple[bool, str, RealtimeReport]:
    """Phase 3's sensor: (passed, message, report); critical fails, anything else passes saying so."""
    report = measure_dsn(dsn, cfg)
    if not report.passed:
        return False, critical_message(report), report
    if report.level == "not_measurable":
        return (
            True,
            "realtime not measurable here, passing: " + "; ".join(f.message for f in report.not_measurable()),
            report,
        )
    return True, report.summary(), report
