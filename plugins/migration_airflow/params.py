"""Params every phase DAG shares, so the trigger forms look and behave the same."""
from __future__ import annotations

from airflow.sdk import Param


def environment_param() -> Param:
    return Param(
        "staging", type="string", enum=["staging", "production"], title="Environment",
        description="Which application database this run touches: staging (connection activity_db_staging) "
                    "or production (activity_db). A destructive production step requires a recent successful "
                    "staging rehearsal of the same phase and project version.")


def mode_param() -> Param:
    return Param(
        "normal", type="string", enum=["normal", "demo"], title="Mode",
        description="normal: every gate waits for a person to approve in the UI (Required Actions). "
                    "demo: approvals are skipped and the skip is recorded in the ledger. Use demo only on "
                    "demo or throwaway databases.")


def common_params(**extra: Param) -> dict[str, Param]:
    """environment + mode, then the DAG's own Params."""
    return {"environment": environment_param(), "mode": mode_param(), **extra}
