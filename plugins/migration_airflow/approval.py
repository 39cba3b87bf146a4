"""Human approval gates, recorded in the migration ledger.

A gate is three tasks:

    <step>_route ──> <step>_approval        (ApprovalOperator: waits in the UI's Required Actions)
                └──> <step>_demo_approval   (demo mode only: records that the approval was skipped)

and the gated task runs after either (trigger rule ``none_failed_min_one_success``).
Reject skips everything downstream (``ignore_downstream_trigger_rules``): the phase stops
cleanly, nothing destructive runs, and the ledger records who rejected and when.

The approval's subject and body are Jinja templates: pass ``"{{ ti.xcom_pull(task_ids='...') }}"``
to show evidence computed by an earlier task (counts, parity result, baselines).

About the race in docs/platform-notes.md (an answer within a second of ``awaiting_input`` can fail the
task: the executor reports the parking workload as finished after the answer already resumed
the task, and the scheduler fails that try): the approval task has retries, and a retry first
looks (through a one-shot trigger: only the triggerer may read a HITL detail) for an answer
given to the earlier try that no try acted on (Airflow keeps it in the task instance's HITL
detail; the ledger says whether it was acted on) and acts on it, so the person is not asked
twice and the phase does not fail. Automated approvers should still wait
a few seconds before answering.

Demo mode (``activity_migration.run_rules.require_demo_allowed``): the route and the demo task
refuse ``mode=demo`` on a database without the demo seed's mark, so no approval can be skipped on
a real database.

Four eyes (``run_rules.four_eyes``): in production the request is assigned (``assigned_users``)
to the users of the Airflow Variable ``migration_approvers`` minus the user who triggered the run
(the API answers 403 to anyone else), and an Approve by the triggering user that still arrives
(an all-admins auth manager, a stale assignment) is refused when it is acted on: ledger row
``failed`` (``self-approval refused``), task failed; its retry asks again and never reuses it.
Staging allows a self-approval unless the Variable ``migration_allow_self_approval_in_staging``
is false.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator, HITLOperator
from airflow.sdk import task
from airflow.sdk.exceptions import AirflowFailException
from airflow.triggers.base import BaseTrigger, TriggerEvent
from psycopg import sql

from activity_migration import ledger
from activity_migration.config import load_config
from activity_migration.db import connection, fetch_all, load_sql
from activity_migration.errors import GateClosed
from activity_migration.run_rules import (
    ALLOW_SELF_APPROVAL_IN_STAGING_VARIABLE,
    APPROVERS_VARIABLE,
    Approver,
    approvers_for,
    clamps_markdown,
    four_eyes,
    parse_approvers,
    require_demo_allowed,
    user_label,
)

from .runtime import dsn_from_context, param_clamps, run_context, triggering_user

DEMO_ACTOR = "demo-mode (approval skipped, non-production run)"


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else (None if value is None else str(value))


def _user_name(user: Any) -> str:
    return user_label(user)


def _variable(name: str) -> Any:
    """An Airflow Variable at run time (never at parse time); None when unset."""
    from airflow.sdk import Variable

    return Variable.get(name, default=None)


class LedgerApprovalOperator(ApprovalOperator):
    """Approve/Reject in the Airflow UI; the decision and the approver go into the ledger.

    :param phase: ledger phase id (e.g. ``p2_dual_write``)
    :param step: what is being approved (e.g. ``switch``); may name run Params in braces
        (``tier_{tier}_drop``), filled from the run's Params for the ledger
    """

    def __init__(self, *, phase: str, step: str, **kwargs: Any) -> None:
        kwargs.setdefault("retries", 2)
        kwargs.setdefault("retry_delay", timedelta(seconds=5))
        super().__init__(ignore_downstream_trigger_rules=True, **kwargs)
        self.phase = phase
        self.step = step

    def ledger_step(self, context) -> str:  # noqa: ANN001 - Airflow context
        return ledger_step_name(self.step, context)

    def execute(self, context):  # noqa: ANN001 - Airflow signature
        self.assign_approvers(context)  # fail at once (before any deferral) when nobody may answer
        if (getattr(context["ti"], "try_number", 1) or 1) > 1:
            # Only the triggerer may read a task's HITL detail: look there before asking again.
            self.defer(
                trigger=EarlierAnswerTrigger(ti_id=str(context["ti"].id)), method_name="resume_after_lookup"
            )
        return self._ask(context)

    def _ask(self, context):  # noqa: ANN001
        self.assign_approvers(context)
        return super().execute(context)

    def assign_approvers(self, context) -> list[Approver] | None:  # noqa: ANN001
        """Who may answer this run's request; sets ``assigned_users`` (read by HITLOperator.execute).

        Production: the Airflow Variable ``migration_approvers`` minus the user who triggered the
        run; unset, or listing only that user, fails the task saying what to set. Staging: whoever
        may answer approvals in Airflow (``assigned_users`` as constructed). The body gets a line
        saying who may answer, and the production limits this run was clamped to.
        """
        ctx = run_context(context)
        trigger = triggering_user(context)
        lines = []
        if ctx.environment == "production":
            approvers = parse_approvers(_variable(APPROVERS_VARIABLE))
            if not approvers:
                raise AirflowFailException(
                    f"four eyes: no approvers for this production approval. Set the Airflow Variable "
                    f"{APPROVERS_VARIABLE} to the users who may approve (a JSON list of user ids, e.g. "
                    '["alice", "bob"], or of {"id": ..., "name": ...} objects, or "alice, bob"; for the '
                    "simple auth manager the id is the username), then clear this task."
                )
            allowed = approvers_for(approvers, trigger)
            if not allowed:
                raise AirflowFailException(
                    f"four eyes: the Airflow Variable {APPROVERS_VARIABLE} lists only {trigger!r}, who "
                    "triggered "
                    "this production run and may not approve it. Add another approver to the Variable, then "
                    "clear this task."
                )
            self.assigned_users = allowed
            who = ", ".join(_user_name(u) for u in allowed)
            lines.append(
                f"**Who may answer** (Variable `{APPROVERS_VARIABLE}`): {who}"
                + (
                    f"; not `{trigger}`, who triggered this run (four eyes)."
                    if trigger
                    else "; the triggering user is unknown (scheduled run or `airflow dags test`)."
                )
            )
        clamps = param_clamps(context)
        if clamps:
            lines.append("**Production limits applied to this run's Params**:\n" + clamps_markdown(clamps))
        if not hasattr(self, "_body_as_rendered"):
            self._body_as_rendered = self.body
        if lines:
            self.body = ((self._body_as_rendered or "") + "\n\n---\n" + "\n\n".join(lines)).strip()
        return self.assigned_users

    def resume_after_lookup(self, context, event):  # noqa: ANN001 - Airflow signature
        """Act on an earlier try's answer that no try acted on, else ask again.

        The race in docs/platform-notes.md: Airflow keeps one HITL detail per task instance and
        wipes its response when a new try asks again. If a try failed after the person answered
        but before ``execute_complete`` ran, the answer is still there when the retry starts and
        the ledger has no row for it: act on it, so the person is not asked twice. An answer that
        was acted on (ledger row with the same ``responded_at``, e.g. before a deliberate clear)
        is asked again as usual.
        """
        answer = (event or {}).get("answer")
        if answer and not self._answer_in_ledger(context, datetime.fromisoformat(answer["responded_at"])):
            answer = {**answer, "responded_at": datetime.fromisoformat(answer["responded_at"])}
            self.log.warning(
                "Reusing the answer %s given by %s at %s to an earlier try: the scheduler failed "
                "that try before it could act on it (answer/park race), so nobody is asked again.",
                answer["chosen_options"],
                _user_name(answer["responded_by_user"]),
                answer["responded_at"],
            )
            return self.execute_complete(context, answer)
        if answer:
            self.log.info(
                "the earlier answer (%s by %s) was acted on already: asking again",
                answer["chosen_options"],
                _user_name(answer["responded_by_user"]),
            )
        if event and event.get("error"):
            self.log.info("no earlier answer to reuse (%s)", event["error"])
        return self._ask(context)

    def _answer_in_ledger(self, context, responded_at: datetime) -> bool:  # noqa: ANN001
        dag_run = context.get("dag_run")
        with connection(dsn_from_context(context)) as conn:
            cfg = load_config()
            if not ledger.state_schema_exists(conn, cfg):
                return False
            rows = fetch_all(
                conn,
                load_sql(
                    "airflow_ui/02_read_approval_answers.sql",
                    ledger=sql.Identifier(cfg.state_schema, "phase_ledger"),
                ),
                (self.phase, f"{self.ledger_step(context)}_approval", getattr(dag_run, "run_id", None)),
            )
        for row in rows:
            try:
                if abs((datetime.fromisoformat(row["at"]) - responded_at).total_seconds()) < 0.001:
                    return True
            except (TypeError, ValueError):
                continue
        return False

    def execute_complete(self, context, event):  # noqa: ANN001 - Airflow signature
        # Record first: on Reject, ApprovalOperator.execute_complete skips downstream by raising
        # (task SDK), so nothing after super() would run. HITLOperator's part only validates.
        result = HITLOperator.execute_complete(self, context=context, event=event)
        verdict = self.four_eyes(context, result)
        if not verdict["allowed"]:
            # Recorded with its responded_at, so a retry sees it was acted on and asks again
            # (resume_after_lookup never reuses it).
            self._record(context, result, verdict, status="failed")
            raise GateClosed(
                f"{self.phase}/{self.ledger_step(context)} approval: {verdict['note']} (triggering user "
                f"{verdict['triggering_user']!r}, responder {verdict['responder']!r}). The answer is not "
                "used; a "
                f"retry asks again (once retries are used up, clear the task). Answer as another user listed "
                "in "
                f"the Airflow Variable {APPROVERS_VARIABLE}."
            )
        self._record(context, result, verdict)
        return super().execute_complete(context=context, event=event)

    def four_eyes(self, context, result) -> dict[str, Any]:  # noqa: ANN001
        """May this answer stand (``run_rules.four_eyes`` with this run's environment and trigger user)?"""
        ctx = run_context(context)
        staging_setting = approvers = None
        if ctx.environment == "production":
            try:
                approvers = parse_approvers(_variable(APPROVERS_VARIABLE))
            except Exception as exc:  # unreadable or malformed: nobody counts as an approver (fail closed)
                self.log.warning(
                    "cannot read the Variable %s (%s): no answer can stand", APPROVERS_VARIABLE, exc
                )
                approvers = []
        else:
            try:
                staging_setting = _variable(ALLOW_SELF_APPROVAL_IN_STAGING_VARIABLE)
            except Exception as exc:  # unreadable: the documented default (allowed in staging)
                self.log.warning(
                    "cannot read the Variable %s (%s): self-approval in staging allowed (default)",
                    ALLOW_SELF_APPROVAL_IN_STAGING_VARIABLE,
                    exc,
                )
        chosen = (result.get("chosen_options") or ["?"])[0]
        return four_eyes(
            environment=ctx.environment,
            responder=result.get("responded_by_user"),
            triggering_user_name=getattr(context.get("dag_run"), "triggering_user_name", None),
            approved=chosen == self.APPROVE,
            staging_setting=staging_setting,
            approvers=approvers,
        )

    def _record(
        self,
        context,
        result,
        verdict: dict[str, Any] | None = None,  # noqa: ANN001
        status: str | None = None,
    ) -> None:
        chosen = (result.get("chosen_options") or ["?"])[0]
        approver = _user_name(result.get("responded_by_user"))
        status = status or ("succeeded" if chosen == self.APPROVE else "rejected")
        details: dict[str, Any] = {
            "chosen": chosen,
            "responded_at": _iso(result.get("responded_at")),
            "subject": self.subject,
            "responder": result.get("responded_by_user"),
        }
        if verdict is not None:
            details["triggering_user"] = verdict["triggering_user"]
            details["four_eyes"] = {k: v for k, v in verdict.items() if k not in ("responder",)}
            if verdict["refused"]:
                details["refused"] = verdict["refused"]
        clamps = param_clamps(context)
        if clamps:
            details["param_clamps"] = clamps
        with connection(dsn_from_context(context)) as conn:
            ledger.record(
                conn,
                self.phase,
                f"{self.ledger_step(context)}_approval",
                status,
                run_context(context, approver),
                details,
            )
        shown = {"succeeded": "approved", "rejected": "REJECTED"}.get(
            status, f"REFUSED ({details.get('refused')})"
        )
        self.log.info("%s %s by %s", self.ledger_step(context), shown, approver)


class EarlierAnswerTrigger(BaseTrigger):
    """Fire once with the response stored in a task instance's HITL detail (or none)."""

    def __init__(self, ti_id: str) -> None:
        super().__init__()
        self.ti_id = ti_id

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return f"{type(self).__module__}.{type(self).__qualname__}", {"ti_id": self.ti_id}

    async def run(self):  # noqa: ANN201 - AsyncIterator[TriggerEvent]
        from uuid import UUID

        from airflow.sdk.execution_time.hitl import get_hitl_detail_content_detail
        from asgiref.sync import sync_to_async

        try:
            resp = await sync_to_async(get_hitl_detail_content_detail)(ti_id=UUID(self.ti_id))
        except Exception as exc:  # no detail yet (a cleared task asked for the first time)
            yield TriggerEvent({"answer": None, "error": f"{type(exc).__name__}: {exc}"})
            return
        if not resp.response_received or not resp.chosen_options or resp.responded_at is None:
            yield TriggerEvent({"answer": None})
            return
        user = resp.responded_by_user
        yield TriggerEvent(
            {
                "answer": {
                    "chosen_options": list(resp.chosen_options),
                    "params_input": dict(resp.params_input or {}),
                    "responded_at": resp.responded_at.isoformat(),
                    "responded_by_user": user.model_dump() if hasattr(user, "model_dump") else user,
                }
            }
        )


@dataclass
class ApprovalGate:
    entry: Any
    exits: list[Any]

    def then(self, gated: Any) -> Any:
        """Make ``gated`` (an operator or XComArg) run after the gate; returns it for chaining."""
        op = getattr(gated, "operator", gated)
        op.trigger_rule = "none_failed_min_one_success"
        for ex in self.exits:
            ex >> gated
        return gated


def ledger_step_name(step: str, context: dict[str, Any]) -> str:
    """``step`` with run Params filled in (``tier_{tier}_drop`` → ``tier_3_drop``): each tier's
    approval is its own ledger row, so the ledger says who approved which drop."""
    return step.format(**(context.get("params") or {})) if "{" in step else step


def approval_gate(
    *,
    phase: str,
    step: str,
    subject: str,
    body: str,
    response_timeout: timedelta | None = None,
    ledger_step: str | None = None,
) -> ApprovalGate:
    """Build the route/approval/demo-skip tasks of one gate (call inside a DAG context).

    :param step: task id prefix (``<step>_route``, ``<step>_approval``, ``<step>_demo_approval``)
    :param ledger_step: the ledger's name for it when it depends on the run (``tier_{tier}_drop``);
        default ``step``
    """
    approval_id = f"{step}_approval"
    demo_id = f"{step}_demo_approval"
    recorded = ledger_step or step
    route = _route_task(step, approval_id, demo_id)
    demo_approval = _demo_approval_task(demo_id, phase, recorded, subject)
    approval = LedgerApprovalOperator(
        task_id=approval_id,
        phase=phase,
        step=recorded,
        subject=subject,
        body=body,
        response_timeout=response_timeout,
        doc_md="Approve or Reject in Required Actions. Reject stops the phase; nothing after this runs.",
    )
    entry = route()
    demo = demo_approval()
    entry >> [approval, demo]
    return ApprovalGate(entry=entry, exits=[approval, demo])


def _route_task(step: str, approval_id: str, demo_id: str) -> Any:
    """The gate's branch task: ask (``approval_id``), or skip in demo mode (``demo_id``)."""

    @task.branch(
        task_id=f"{step}_route",
        doc_md="Demo mode skips the human approval (recorded), and only on a "
        "database carrying the demo seed's mark; otherwise ask.",
    )
    def route(**context: Any) -> str:
        ctx = run_context(context)
        if ctx.mode != "demo":
            return approval_id
        with connection(dsn_from_context(context)) as conn:
            require_demo_allowed(conn, ctx)  # ConfigError on a database without the demo seed's mark
        return demo_id

    return route


def _demo_approval_task(demo_id: str, phase: str, recorded: str, subject: str) -> Any:
    """The gate's demo-mode task: record in the ledger that the approval was skipped."""

    @task(
        task_id=demo_id,
        doc_md="Demo mode only (a demo-marked database): record in the ledger that this "
        "approval was skipped.",
    )
    def demo_approval(**context: Any) -> dict[str, str]:
        shown = context["task"].render_template(subject, context)
        ctx = run_context(context)
        with connection(dsn_from_context(context)) as conn:
            require_demo_allowed(conn, ctx)  # again here: this task alone must never skip on a real database
            ledger.record(
                conn,
                phase,
                f"{ledger_step_name(recorded, context)}_approval",
                "skipped",
                run_context(context, DEMO_ACTOR),
                {"reason": "mode=demo: approval skipped", "subject": shown},
            )
        return {"approved_by": DEMO_ACTOR}

    return demo_approval
