"""What a migration did, at a glance: the few figures a person reads first (docs/demo-application.md).

Used by ``make demo``'s last screen; the full ledger goes to a file beside it.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from .config import MigrationConfig, load_config
from .db import connection, fetch_one, load_sql
from .ledger import state_schema_exists


def migration_counts(dsn: str, cfg: MigrationConfig | None = None) -> dict[str, Any]:
    """Events linked and published, rows backfilled, quarantine by reason, approvals given/skipped."""
    cfg = cfg or load_config()
    with connection(dsn) as conn:
        if not state_schema_exists(conn, cfg):
            return {}
        query = load_sql(
            "summary/01_select_migration_counts.sql",
            state=cfg.state_schema,
            events=sql.Identifier(cfg.target_schema, cfg.target_table),
        )
        return fetch_one(conn, query) or {}


def format_quarantine(by_reason: dict[str, int]) -> str:
    """``0`` or ``12 (3 unknown_entity_type, 9 payload_too_large)``: the total first, then why."""
    total = sum(by_reason.values())
    if not total:
        return "0"
    reasons = ", ".join(f"{n} {reason}" for reason, n in sorted(by_reason.items(), key=lambda kv: -kv[1]))
    return f"{total:,} ({reasons})"


def summary_table(per_environment: dict[str, dict[str, Any]]) -> list[str]:
    """A Markdown table, one column per environment, one row per figure.

    Each environment's dict holds the keys of :func:`migration_counts` plus ``tx_ok``,
    ``tx_failed`` (the application's transactions during the run) and ``phase_seconds``
    (label → seconds).
    """
    envs = list(per_environment)
    rows: list[tuple[str, list[str]]] = [
        ("history rows backfilled", [f"{e.get('rows_backfilled', 0):,}" for e in per_environment.values()]),
        (
            "events linked to the legacy log",
            [f"{e.get('events_linked', 0):,}" for e in per_environment.values()],
        ),
        (
            "events published by the app only",
            [f"{e.get('events_published', 0):,}" for e in per_environment.values()],
        ),
        (
            "quarantined (by reason)",
            [format_quarantine(e.get("quarantined_by_reason") or {}) for e in per_environment.values()],
        ),
        (
            "app transactions ok / failed",
            [f"{e.get('tx_ok', 0):,} / {e.get('tx_failed', 0):,}" for e in per_environment.values()],
        ),
        (
            "approvals given / skipped (demo)",
            [
                f"{e.get('approvals_given', 0)} / {e.get('approvals_skipped', 0)}"
                for e in per_environment.values()
            ],
        ),
        (
            "time, all phases",
            [_minutes(sum((e.get("phase_seconds") or {}).values())) for e in per_environment.values()],
        ),
    ]
    lines = ["| | " + " | ".join(envs) + " |", "|---" * (len(envs) + 1) + "|"]
    lines += [f"| {label} | " + " | ".join(cells) + " |" for label, cells in rows]
    return lines


def phase_times_table(per_environment: dict[str, dict[str, Any]]) -> list[str]:
    """Time per phase (one row per phase label, one column per environment)."""
    envs = list(per_environment)
    labels: list[str] = []
    for e in per_environment.values():
        labels += [label for label in (e.get("phase_seconds") or {}) if label not in labels]
    lines = ["| phase | " + " | ".join(envs) + " |", "|---" * (len(envs) + 1) + "|"]
    for label in labels:
        cells = [
            _minutes(e["phase_seconds"][label]) if label in (e.get("phase_seconds") or {}) else "–"
            for e in per_environment.values()
        ]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
