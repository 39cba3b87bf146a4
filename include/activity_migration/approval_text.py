"""Words an approver reads first: the three-line summary that opens every approval body, and
Postgres codes and thin baselines said in plain language (docs/approvals.md)."""

from __future__ import annotations

from typing import Any

# pg_trigger.tgenabled (see the PostgreSQL catalog docs): when the trigger fires.
TRIGGER_ENABLED = {
    "O": "enabled (origin)",
    "D": "disabled",
    "R": "replica only",
    "A": "always",
}

# Below this many application writes a baseline says little about write cost.
MIN_BASELINE_WRITES = 100

STATUS_PAGE = "/migration-status/"


def trigger_enabled_label(code: Any) -> str:
    """``O`` → ``enabled (origin)``; an unknown code is shown as it is, marked unknown."""
    text = str(code or "").strip()
    return TRIGGER_ENABLED.get(text, f"unknown ({text or 'none'})")


def baseline_writes_line(writes: Any, per_s: Any, seconds: Any) -> str:
    """The baseline's write count, and what to do when it is too small to compare against."""
    n = int(writes or 0)
    line = f"application writes in the window: {n} ({per_s if per_s is not None else 0}/s over {seconds} s)"
    if n < MIN_BASELINE_WRITES:
        line += (
            f". **Only {n} writes in {seconds} s: the before/after comparison means little**; run the "
            "application's workload during the baseline or lengthen its window, then run the phase again"
        )
    return line


def evidence_link(environment: str) -> str:
    """Where the full evidence and the ledger live (the status page of the Airflow plugin)."""
    return (
        f"Full evidence: the tables below; the ledger and the phase's state on the "
        f"[Migration status page]({STATUS_PAGE}?env={environment})."
    )


def summary_block(*, change: str, risk: str, undo: str, environment: str) -> list[str]:
    """The first lines of an approval body: what will change, the risk, how to undo; then the link."""
    return [
        f"- **Will change:** {change}",
        f"- **Risk:** {risk}",
        f"- **Undo:** {undo}",
        "",
        evidence_link(environment),
        "",
        "---",
        "",
    ]
