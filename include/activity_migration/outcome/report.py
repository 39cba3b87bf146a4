"""Write the outcome report: ``outcome-report.html`` (self-contained) and ``outcome-report.json`` (the
same figures), optionally after taking a final sample. Used by ``activity-migration report``, the
last task of phase 6 and ``make demo``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..config import MigrationConfig, load_config
from ..db import PROJECT_ROOT, connection
from ..errors import MigrationError
from ..ledger import RunContext
from . import baseline, figures, html

DEFAULT_OUT = PROJECT_ROOT / ".local" / "outcome-report"


def default_out_dir(environment: str) -> Path:
    return DEFAULT_OUT / environment


def _staging_durations(staging_dsn: str | None, cfg: MigrationConfig) -> list[dict[str, Any]] | str:
    if not staging_dsn:
        return "no staging database given"
    try:
        with connection(staging_dsn, connect_timeout=5) as conn:
            return figures.durations(conn, cfg)
    except MigrationError as exc:
        return f"staging not reachable: {exc}"


def build(
    dsn: str,
    cfg: MigrationConfig | None = None,
    *,
    environment: str = "production",
    staging_dsn: str | None = None,
) -> dict[str, Any]:
    cfg = cfg or load_config()
    with connection(dsn) as conn:
        fig = figures.collect(conn, cfg, environment)
    if environment == "production":
        fig["durations_by_environment"] = {
            "staging": _staging_durations(staging_dsn, cfg),
            "production": fig["durations"],
        }
    return fig


def write_report(
    dsn: str,
    cfg: MigrationConfig | None = None,
    *,
    out_dir: Path | str | None = None,
    measure: bool = True,
    ctx: RunContext | None = None,
    phase: str = "report",
    point: str = "on_demand",
    staging_dsn: str | None = None,
    window_s: float | None = None,
) -> dict[str, Any]:
    """Take a sample now (``measure``), then write the page and its JSON; returns paths and figures."""
    cfg = cfg or load_config()
    ctx = ctx or RunContext()
    if measure:
        baseline.capture(dsn, cfg, ctx, phase=phase, point=point, window_s=window_s)
    fig = build(dsn, cfg, environment=ctx.environment, staging_dsn=staging_dsn)
    out = Path(out_dir) if out_dir else default_out_dir(ctx.environment)
    out.mkdir(parents=True, exist_ok=True)
    page, data = out / "outcome-report.html", out / "outcome-report.json"
    page.write_text(html.render(fig))
    data.write_text(json.dumps(fig, indent=2, default=str) + "\n")
    return {"html": str(page), "json": str(data), "figures": fig}


def promised_lines(fig: dict[str, Any]) -> list[str]:
    """The promised-vs-measured table as Markdown lines (the demo's last screen, the CLI)."""
    lines = ["| promised | before | after | change | verdict |", "|---|---|---|---|---|"]
    for p in fig["promises"]:
        unit = "" if p["unit"].startswith("index") else f" {p['unit']}"
        cells = [
            html._fmt(p["before"]) + (unit if p["before"] is not None else ""),
            html._fmt(p["after"]) + (unit if p["after"] is not None else ""),
            html._pct(p["change_pct"]),
        ]
        lines.append(f"| {p['promise']} | " + " | ".join(cells) + f" | {p['verdict']} |")
    return lines
