"""Human approval gates, recorded in the migration ledger.

A gate is three tasks:

    <step>_route ──> <step>_approval        (ApprovalOperator: waits in the UI's Required Actions)
                └──> <step>_demo_approval   (demo mode only: records that the approval was skipped)

and the gated task runs after either (trigger rule ``none_failed_min_one_success``).
Reject skips everything downstream (``ignore_downstream_trigger_rules``): the phase stops
cleanly, nothing destructive runs, and the ledger records who rejected and when.

The approval's subject and body are Jinja templates: pass ``"{{ ti.xcom_pull(task_ids='...') }}"``
to show evidence computed by an earlier task (counts, parity result, baselines).

About the race in FIELD_NOTES (an answer within a second of ``awaiting_input`` can fail the
task): the approval task has retries, so a lost answer is asked again rather than failing
the phase, and our own automated approvers wait a few seconds before answering.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import task

from activity_migration import ledger
from activity_migration.db import connection

from .runtime import dsn_from_context, run_context

DEMO_ACTOR = "demo-mode (approval skipped, non-production run)"


def _user_name(user: Any) -> str:
    if isinstance(user, dict):
        return str(user.get("name") or user.get("id") or user)
    return str(user) if user else "unknown"


class LedgerApprovalOperator(ApprovalOperator):
    """Approve/Reject in the Airflow UI; the decision and the approver go into the ledger.

    :param phase: ledger phase id (e.g. ``p2_dual_write``)
    :param step: what is being approved (e.g. ``switch``, ``tier_3_drop``)
    """

    def __init__(self, *, phase: str, step: str, **kwargs: Any) -> None:
        kwargs.setdefault("retries", 2)
        kwargs.setdefault("retry_delay", timedelta(seconds=5))
        super().__init__(ignore_downstream_trigger_rules=True, **kwargs)
        self.phase = phase
        self.step = step

    def execute_complete(self, context, event):  # noqa: ANN001 - Airflow signature
        result = super().execute_complete(context=context, event=event)
        chosen = (result.get("chosen_options") or ["?"])[0]
        approver = _user_name(result.get("responded_by_user"))
        status = "succeeded" if chosen == self.APPROVE else "rejected"
        with connection(dsn_from_context(context)) as conn:
            ledger.record(conn, self.phase, f"{self.step}_approval", status, run_context(context, approver),
                          {"chosen": chosen, "responded_at": str(result.get("responded_at")),
                           "subject": self.subject})
        self.log.info("%s %s by %s", self.step, "approved" if status == "succeeded" else "REJECTED", approver)
        return result


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


def approval_gate(*, phase: str, step: str, subject: str, body: str, response_timeout: timedelta | None = None
                  ) -> ApprovalGate:
    """Build the route/approval/demo-skip tasks of one gate (call inside a DAG context)."""
    approval_id = f"{step}_approval"
    demo_id = f"{step}_demo_approval"

    @task.branch(task_id=f"{step}_route", doc_md="Demo mode skips the human approval (recorded); otherwise ask.")
    def route(**context: Any) -> str:
        return demo_id if run_context(context).mode == "demo" else approval_id

    @task(task_id=demo_id, doc_md="Demo mode only: record in the ledger that this approval was skipped.")
    def demo_approval(**context: Any) -> dict[str, str]:
        with connection(dsn_from_context(context)) as conn:
            ledger.record(conn, phase, f"{step}_approval", "skipped", run_context(context, DEMO_ACTOR),
                          {"reason": "mode=demo: approval skipped", "subject": subject})
        return {"approved_by": DEMO_ACTOR}

    approval = LedgerApprovalOperator(task_id=approval_id, phase=phase, step=step, subject=subject, body=body,
                                      response_timeout=response_timeout,
                                      doc_md="Approve or Reject in Required Actions. Reject stops the phase; "
                                             "nothing after this runs.")
    entry = route()
    demo = demo_approval()
    entry >> [approval, demo]
    return ApprovalGate(entry=entry, exits=[approval, demo])
