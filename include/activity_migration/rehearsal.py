"""The staging-rehearsal rule: may this destructive step run in production yet?

Seed 000, phase 4: "Run migration in staging; verify data consistency; run migration in
production". A destructive production step (the dual-write switch, each tier's drop,
cleanup) runs only when the staging ledger shows a recent, successful, validated rehearsal
of exactly that step at exactly this project version.

The rule (``check_rehearsal``), read from the STAGING database's state schema:

1. **The step succeeded in staging**: a ``phase_ledger`` row with the same ``phase`` and
   ``step``, ``environment = 'staging'``, ``status = 'succeeded'``, the same
   ``project_version`` (string equality: a git commit, or ACTIVITY_MIGRATION_VERSION), and
   finished within ``max_age_days`` of now (the staging server's clock). For a production
   run in mode ``normal`` the staging run must have been in mode ``normal`` too: a demo-mode
   staging run skipped its approvals, so it rehearsed neither the gates nor the people. A
   demo-mode production run (only possible on a database carrying the demo seed's mark,
   ``run_rules.require_demo_allowed``, checked here too) may use a demo-mode rehearsal.
2. **Its validations passed**: the validations considered are the staging database's
   ``validation_results`` rows at the same project version (or recording none) within the
   same age limit, before or after the rehearsal. For every suite among them, the NEWEST
   row must be successful: a failure fixed by a later passing run of the same suite is
   cleared; a failure not cleared blocks, whether it came before the step (a gate that was
   bypassed, a nightly check) or after it (the rehearsal broke something). Results of other
   project versions do not count either way. Phases whose destructive step is guarded by a
   validation (p5 parity before each tier, p6 the full suite: ``VALIDATION_REQUIRED``) also
   need at least one such result; p2 (no validation before the switch) needs only the
   step's success.

Which steps are gated (the destructive step's ledger step, as the phases record it) is
``DESTRUCTIVE_STEPS``. The verdict is a JSON-serialisable dict (``passed``, ``message``,
evidence...), recorded in the production ledger by the Airflow gate and rendered for
approval bodies by ``render_evidence_markdown``. The staging database's rows are read as
evidence in ``rehearsal_staging``; ``rehearsal_report`` shows both ledgers side by side.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, Callable

import psycopg

from . import ledger
from .config import MigrationConfig, load_config
from .db import connection, fetch_all, fetch_one, fetch_row, load_sql, redact
from .rehearsal_evidence import days_text, iso_utc, render_evidence_markdown, when_utc
from .rehearsal_report import rehearsal_report  # noqa: F401 - imported from here by scripts and tests
from .rehearsal_staging import _row_summary, _why_no_rehearsal, database_identity, same_database

DEFAULT_MAX_AGE_DAYS = 7.0

# phase -> ledger step names of its destructive steps (regex, full match). Kept in step with
# the phase modules: p2 records the dual-write switch as 'switch', p5 each tier's drop as
# 'tier_<n>_drop', p6 its steps as 'archive' (activity_logs moved away), 'drop_legacy_functions'
# and 'delete_archive'; its DAG gates them together as 'cleanup' (see REHEARSED_BY).
DESTRUCTIVE_STEPS: dict[str, str] = {
    "p2_dual_write": r"switch",
    "p5_trigger_removal": r"tier_[0-9]+_drop",
    "p6_cleanup": r"cleanup|archive|drop_legacy_functions|delete_archive",
}

# A gate named for a group of steps is satisfied by the staging success of the group's LAST
# destructive step: p6's gate ("cleanup") sits before archive and drop_legacy_functions, and a
# staging run that got through drop_legacy_functions rehearsed both.
REHEARSED_BY: dict[tuple[str, str], str] = {
    ("p6_cleanup", "cleanup"): "drop_legacy_functions",
}

# Phases whose destructive step is guarded by a validation suite in the same run: a
# rehearsal without any validation result in its window does not count for them.
VALIDATION_REQUIRED: frozenset[str] = frozenset({"p5_trigger_removal", "p6_cleanup"})


def rehearsed_step(phase: str, step: str) -> str:
    """The staging ledger step whose success rehearses the gated ``step``."""
    return REHEARSED_BY.get((phase, step), step)


def is_destructive(phase: str, step: str) -> bool:
    pattern = DESTRUCTIVE_STEPS.get(phase)
    return bool(pattern and re.fullmatch(pattern, step))


# ---------------------------------------------------------------------------------------
# the check


def check_rehearsal(
    *,
    staging_conn: psycopg.Connection,
    phase: str,
    step: str,
    project_version: str,
    max_age_days: float = DEFAULT_MAX_AGE_DAYS,
    cfg: MigrationConfig | None = None,
    production_mode: str = "normal",
) -> dict[str, Any]:
    """Decide whether ``phase``/``step`` was rehearsed in staging; never raises for a missing rehearsal.

    :param staging_conn: connection to the STAGING application database (its ledger is read)
    :param phase: ledger phase id, e.g. ``p5_trigger_removal``
    :param step: the destructive step's ledger step, e.g. ``tier_3_drop``
    :param project_version: the version production runs (``ledger.project_version()``)
    :param max_age_days: how old the staging success may be
    :param production_mode: the production run's mode: ``normal`` accepts only a staging run in
        mode normal; ``demo`` accepts either
    :return: ``{"passed": bool, "message": str, ...evidence}`` (JSON-serialisable)
    """
    cfg = cfg or load_config()
    max_age_days = float(max_age_days)
    gated_step, step = step, rehearsed_step(phase, step)
    normal_only = production_mode != "demo"
    verdict = _new_verdict(
        phase, gated_step, step, project_version, max_age_days, production_mode, normal_only
    )
    missing = (
        f"no successful {'normal-mode ' if normal_only else ''}staging rehearsal of {phase}/{step} at "
        f"version {project_version} in the last {days_text(max_age_days)}"
    )
    if not _staging_has_ledger(staging_conn, verdict, missing, cfg):
        return verdict
    t_ledger = ledger.state_table(cfg, "phase_ledger")
    rehearsal = _staging_success(staging_conn, verdict, t_ledger, normal_only)
    if rehearsal is None:
        verdict["message"] = f"{missing}; " + _why_no_rehearsal(staging_conn, verdict, t_ledger, normal_only)
        return verdict
    verdict["rehearsal"] = _row_summary(rehearsal)
    _judge_validations(staging_conn, verdict, rehearsal, cfg)
    return verdict


def _new_verdict(
    phase: str,
    gated_step: str,
    step: str,
    project_version: str,
    max_age_days: float,
    production_mode: str,
    normal_only: bool,
) -> dict[str, Any]:
    """The verdict before anything is read: not passed, no evidence yet."""
    verdict: dict[str, Any] = {
        "passed": False,
        "message": "",
        "phase": phase,
        "step": gated_step,
        "rehearsed_step": step,
        "project_version": project_version,
        "max_age_days": max_age_days,
        "checked_at": iso_utc(datetime.now(timezone.utc)),
        "staging_database": None,
        "rehearsal": None,
        "newest_staging_run": None,
        "validation_window": None,
        "validations": [],
        "validation_required": phase in VALIDATION_REQUIRED,
        "production_mode": production_mode,
        "rehearsal_mode_required": "normal" if normal_only else "any",
        "warnings": [],
    }
    if project_version.endswith("-dirty"):
        verdict["warnings"].append(
            f"project version {project_version} has uncommitted changes: the rehearsal "
            "and this run may not run the same code"
        )
    return verdict


def _staging_has_ledger(
    staging_conn: psycopg.Connection, verdict: dict[str, Any], missing: str, cfg: MigrationConfig
) -> bool:
    """Whether the staging database can be read and has the state schema (its identity goes into
    the verdict); if not, the verdict's message says why."""
    try:
        ident = database_identity(staging_conn)
        verdict["staging_database"] = {
            "database": ident["database"],
            "system_identifier": ident["system_identifier"],
        }
    except psycopg.Error as exc:
        verdict["message"] = f"{missing}; the staging database could not be read: {exc}"
        return False

    if not ledger.state_schema_exists(staging_conn, cfg):
        verdict["message"] = (
            f"{missing}; the staging database {ident['database']!r} has no migration state "
            f"schema {cfg.state_schema!r} (nothing has run there yet)"
        )
        return False
    return True


def _staging_success(
    staging_conn: psycopg.Connection, verdict: dict[str, Any], t_ledger: Any, normal_only: bool
) -> dict[str, Any] | None:
    """The staging ledger's success of the rehearsed step at this version and age, or None."""
    return fetch_one(
        staging_conn,
        load_sql("rehearsal/02_select_rehearsal_success.sql", ledger=t_ledger),
        {
            "phase": verdict["phase"],
            "step": verdict["rehearsed_step"],
            "project_version": verdict["project_version"],
            "max_age_secs": verdict["max_age_days"] * 86400,
            "normal_only": normal_only,
        },
    )


def _judge_validations(
    staging_conn: psycopg.Connection, verdict: dict[str, Any], rehearsal: dict[str, Any], cfg: MigrationConfig
) -> None:
    """Pass or block the found rehearsal on the validations that speak for this version: same
    project version (or none recorded), recent; sets ``passed`` and ``message``."""
    phase, what = verdict["phase"], f"{verdict['phase']}/{verdict['rehearsed_step']}"
    version, max_age_days = verdict["project_version"], verdict["max_age_days"]
    start = fetch_row(staging_conn, "SELECT now() - make_interval(secs => %s) AS s", (max_age_days * 86400,))[
        "s"
    ]
    verdict["validation_window"] = {
        "from": iso_utc(start),
        "to": verdict["checked_at"],
        "project_version": version,
    }
    validations = fetch_all(
        staging_conn,
        load_sql(
            "rehearsal/04_select_newest_validations.sql",
            validations=ledger.state_table(cfg, "validation_results"),
        ),
        {"since": start, "project_version": version},
    )
    verdict["validations"] = [
        {
            "id": v["id"],
            "suite": v["suite"],
            "scope": v["scope"],
            "success": v["success"],
            "environment": v["environment"],
            "project_version": v["project_version"],
            "run_at": iso_utc(v["run_at"]),
            "failures": len(v["failures"] or []),
        }
        for v in validations
    ]
    failed = [v for v in validations if not v["success"]]
    rehearsed = (
        f"staging rehearsal of {what} at version {version} succeeded on "
        f"{when_utc(rehearsal['finished_at'] or rehearsal['started_at'])}"
    )
    if failed:
        names = ", ".join(f"{v['suite']} (run {when_utc(v['run_at'])})" for v in failed)
        verdict["message"] = (
            f"{rehearsed}, but the newest staging validation of {names} at this version "
            "failed: fix and re-validate in staging"
        )
        return
    if not validations and phase in VALIDATION_REQUIRED:
        verdict["message"] = (
            f"{rehearsed}, but no validation result at this version is recorded in staging in "
            f"the last {days_text(max_age_days)}; {phase} requires its validations to have passed "
            "there"
        )
        return
    verdict["passed"] = True
    suites = ", ".join(v["suite"] for v in validations) or "none ran (none required for this phase)"
    verdict["message"] = f"{rehearsed}; validations passed: {suites}"


def check_rehearsal_dsn(staging_dsn: str, **kwargs: Any) -> dict[str, Any]:
    """``check_rehearsal`` opening (and closing) its own staging connection."""
    with connection(staging_dsn, autocommit=True) as conn:
        verdict = check_rehearsal(staging_conn=conn, **kwargs)
    verdict["staging_dsn"] = redact(staging_dsn)
    return verdict


# ---------------------------------------------------------------------------------------
# the production gate


def not_required_in_staging(phase: str, step: str) -> dict[str, Any]:
    """The gate's verdict in a staging run: no rehearsal needed, this run is the rehearsal."""
    return {
        "required": False,
        "passed": True,
        "reason": "staging run: this run is the rehearsal",
        "phase": phase,
        "step": step,
        "markdown": "**Staging rehearsal**: not required (this staging run is the rehearsal).",
    }


def enforce_rehearsal(
    *,
    production_conn: psycopg.Connection,
    staging_dsn: str | Callable[[], str],
    phase: str,
    step: str,
    ctx: ledger.RunContext,
    max_age_days: float = DEFAULT_MAX_AGE_DAYS,
    cfg: MigrationConfig | None = None,
    clamps: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The production gate: check, record ``<step>_rehearsal_gate`` in the production ledger, raise
    if not met.

    In a staging run nothing is checked (that run IS the rehearsal). A staging connection that
    points at the production database itself never counts as a rehearsal. ``staging_dsn`` may be
    a callable (resolved inside the check, so an unconfigured staging connection is recorded as a
    closed gate, not a crash). A production run in mode normal needs a normal-mode rehearsal; a
    demo-mode production run is refused unless the production database carries the demo seed's
    mark, and may then use a demo-mode rehearsal.

    :param clamps: production clamps of the max age (``run_rules.clamp_value``), kept in the
        ledger row's details as ``param_clamps``
    :raises GateClosed: with the verdict's message when the rehearsal is missing
    """
    from .errors import GateClosed
    from .run_rules import clamps_markdown

    cfg = cfg or load_config()
    if ctx.environment != "production":
        return not_required_in_staging(phase, step)
    verdict = _production_verdict(production_conn, staging_dsn, phase, step, ctx, max_age_days, cfg)
    if clamps:
        verdict["param_clamps"] = list(clamps)
    verdict["markdown"] = render_evidence_markdown(verdict)
    if clamps:
        verdict["markdown"] += clamps_markdown(clamps) + "\n"
    _record_gate(production_conn, phase, step, ctx, verdict, cfg)
    if not verdict["passed"]:
        raise GateClosed(f"rehearsal gate of {phase}/{step} in production: {verdict['message']}")
    return verdict


def _production_verdict(
    production_conn: psycopg.Connection,
    staging_dsn: str | Callable[[], str],
    phase: str,
    step: str,
    ctx: ledger.RunContext,
    max_age_days: float,
    cfg: MigrationConfig,
) -> dict[str, Any]:
    """The verdict for a production run: the demo rule, then the staging ledger (never the
    production database itself); a refusal or an unreachable staging database is a closed gate."""
    from .errors import ConfigError, GateClosed
    from .run_rules import require_demo_allowed

    version = ledger.project_version()
    shown = "<staging connection>"
    try:
        if ctx.mode == "demo":
            try:
                require_demo_allowed(production_conn, ctx)
            except ConfigError as exc:
                raise _Refused(str(exc)) from None
        dsn = staging_dsn() if callable(staging_dsn) else staging_dsn
        shown = redact(dsn)
        with connection(dsn, autocommit=True) as stg:
            if same_database(database_identity(stg), database_identity(production_conn)):
                verdict = _closed_verdict(
                    phase,
                    step,
                    version,
                    max_age_days,
                    f"the staging connection points at the production database itself "
                    f"({shown}): a rehearsal must run on a separate database",
                )
            else:
                verdict = check_rehearsal(
                    staging_conn=stg,
                    phase=phase,
                    step=step,
                    project_version=version,
                    max_age_days=max_age_days,
                    cfg=cfg,
                    production_mode=ctx.mode,
                )
    except _Refused as exc:  # demo mode on a database without the demo seed's mark
        verdict = _closed_verdict(phase, step, version, max_age_days, str(exc))
    except Exception as exc:  # unreachable staging: recorded and reported like any missing rehearsal
        if isinstance(exc, GateClosed):
            raise
        verdict = _closed_verdict(
            phase, step, version, max_age_days, f"cannot read the staging ledger of {phase}/{step}: {exc}"
        )
    verdict["staging_dsn"] = shown
    return verdict


def _closed_verdict(phase: str, step: str, version: str, max_age_days: float, message: str) -> dict[str, Any]:
    """A verdict that closes the gate before (or instead of) reading the staging ledger."""
    return {
        "passed": False,
        "phase": phase,
        "step": step,
        "project_version": version,
        "max_age_days": float(max_age_days),
        "checked_at": iso_utc(datetime.now(timezone.utc)),
        "message": message,
    }


def _record_gate(
    production_conn: psycopg.Connection,
    phase: str,
    step: str,
    ctx: ledger.RunContext,
    verdict: dict[str, Any],
    cfg: MigrationConfig,
) -> None:
    """Record the verdict as ``<step>_rehearsal_gate`` in the production ledger, committed."""
    if (
        production_conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE
        and not production_conn.autocommit
    ):
        production_conn.rollback()
    ledger.ensure_state_schema(production_conn, cfg)
    ledger.record(
        production_conn,
        phase,
        f"{step}_rehearsal_gate",
        "succeeded" if verdict["passed"] else "failed",
        ctx,
        verdict,
        cfg=cfg,
    )
    if not production_conn.autocommit:
        production_conn.commit()


class _Refused(Exception):
    """A rule refused the run before the staging ledger was read (recorded like a closed gate)."""
