"""Both ledgers side by side: the staging and the production database's newest ledger row per
phase and step, as a Markdown table."""

from __future__ import annotations

from typing import Any

from . import ledger
from .config import MigrationConfig, load_config
from .db import connection, fetch_all, load_sql
from .rehearsal_evidence import when_utc


def _ledger_latest(dsn: str, environment: str, cfg: MigrationConfig) -> dict[tuple[str, str], dict[str, Any]]:
    with connection(dsn, autocommit=True) as conn:
        if not ledger.state_schema_exists(conn, cfg):
            return {}
        rows = fetch_all(
            conn,
            load_sql(
                "rehearsal/05_select_latest_ledger_rows.sql", ledger=ledger.state_table(cfg, "phase_ledger")
            ),
            (environment,),
        )
    return {(r["phase"], r["step"]): r for r in rows}


def rehearsal_report(staging_dsn: str, production_dsn: str, cfg: MigrationConfig | None = None) -> str:
    """Both ledgers side by side (newest row per phase and step), as a Markdown table.

    One line per (phase, step) seen in either ledger, in phase order then first run;
    the staging columns come from the staging database's ledger (environment staging), the
    production columns from the production database's (environment production).
    Gate verdicts appear as their own steps (``<step>_rehearsal_gate``).
    """
    cfg = cfg or load_config()
    staging = _ledger_latest(staging_dsn, "staging", cfg)
    production = _ledger_latest(production_dsn, "production", cfg)
    order = {p: i for i, p in enumerate(ledger.PHASES)}
    first: dict[tuple[str, str], Any] = {}
    for rows in (staging, production):
        for key, r in rows.items():
            first[key] = min(first.get(key, r["first_at"]), r["first_at"])
    keys = sorted(set(staging) | set(production), key=lambda k: (order.get(k[0], len(order)), k[0], first[k]))

    def cells(r: dict[str, Any] | None) -> str:
        if r is None:
            return "– | | "
        return (
            f"{r['status']}{' (demo)' if r['mode'] == 'demo' else ''} | {r['project_version'] or ''} | "
            f"{when_utc(r['at'])}"
        )

    lines = [
        "| phase | step | staging | version | when | production | version | when |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key in keys:
        lines.append(f"| {key[0]} | {key[1]} | {cells(staging.get(key))} | {cells(production.get(key))} |")
    if not keys:
        lines.append("| (no ledger rows in either database) | | | | | | | |")
    return "\n".join(lines) + "\n"
