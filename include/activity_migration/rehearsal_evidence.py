"""The rehearsal verdict as people read it: Markdown for approval bodies and reports, and the
date and duration wording it (and the verdict's messages) use."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any


def iso_utc(value: Any) -> str | None:
    """A timestamp as ISO 8601 in UTC to the second (other values as text, None kept)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat(timespec="seconds")
    return str(value)


def when_utc(value: Any) -> str:
    """A timestamp (or its ISO text) as ``YYYY-MM-DD HH:MM UTC``; ``?`` when unknown."""
    if value is None:
        return "?"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def days_text(n: float) -> str:
    """``1 day``, ``7 days``, ``0.5 days``."""
    n = float(n)
    return f"{int(n)} day{'s' if int(n) != 1 else ''}" if n == int(n) else f"{n:g} days"


def render_evidence_markdown(verdict: dict[str, Any]) -> str:
    """Markdown for approval bodies and reports: the verdict, the rehearsal, the validations."""
    if verdict.get("required") is False:
        return f"**Staging rehearsal**: not required ({verdict.get('reason', 'staging run')})."
    mark = "PASSED" if verdict.get("passed") else "NOT MET"
    lines = [
        f"**Staging rehearsal {mark}** for `{verdict.get('phase')}/{verdict.get('step')}` "
        f"at version `{verdict.get('project_version')}` (limit {days_text(verdict.get('max_age_days', 0))})",
        "",
        verdict.get("message", ""),
    ]
    if verdict.get("rehearsed_step") and verdict["rehearsed_step"] != verdict.get("step"):
        lines += [
            "",
            f"- `{verdict['step']}` is rehearsed by the staging success of `{verdict['rehearsed_step']}`",
        ]
    db = verdict.get("staging_database") or {}
    if db:
        lines += [
            "",
            f"- staging database: `{db.get('database')}`"
            + (f" (cluster {db['system_identifier']})" if db.get("system_identifier") else ""),
        ]
    r = verdict.get("rehearsal")
    if r:
        lines.append(
            f"- rehearsal: ledger #{r['ledger_id']}, run `{r['dag_run_id']}`, mode {r['mode']}, "
            f"finished {when_utc(r['finished_at'] or r['started_at'])}"
        )
    if verdict.get("rehearsal_mode_required") == "normal":
        lines.append("- production runs in mode normal: only a staging rehearsal in mode normal counts")
    n = verdict.get("newest_staging_run")
    if n:
        lines.append(
            f"- newest staging run: version `{n['project_version']}`, status {n['status']}, "
            f"{when_utc(n['finished_at'] or n['started_at'])}"
        )
    vals = verdict.get("validations") or []
    if vals:
        lines += ["", "| suite | result | run at | version |", "|---|---|---|---|"]
        lines += [
            f"| {v['suite']} | {'passed' if v['success'] else 'FAILED'} | {when_utc(v['run_at'])} | "
            f"{v.get('project_version') or ''} |"
            for v in vals
        ]
    elif r:
        lines.append("- staging validations at this version: none")
    for w in verdict.get("warnings") or []:
        lines.append(f"- warning: {w}")
    return "\n".join(lines).strip() + "\n"
