"""require_recent_pass: the gate phases 5 and 6 read before destructive steps."""

from __future__ import annotations

import pytest

from activity_migration.config import load_config
from activity_migration.db import connection
from activity_migration.errors import GateClosed
from activity_migration.ledger import RunContext
from activity_migration.validation.gate import require_recent_pass
from activity_migration.validation.report import validation_section
from activity_migration.validation.runner import run_suites

from .helpers import execute


def test_gate_blocks_on_missing_failed_and_stale_results(migrated, tmp_path):
    with connection(migrated) as conn:
        with pytest.raises(GateClosed, match="no recorded result of suite 'parity'"):
            require_recent_pass(conn, "parity", 24, "staging")
    assert run_suites(migrated, ["parity"], "full", RunContext(environment="staging"), tmp_path).success
    with connection(migrated) as conn:
        ok = require_recent_pass(conn, "parity", 24, "staging")
        assert ok["success"] and ok["age_hours"] < 1
        with pytest.raises(GateClosed, match="no recorded result"):  # other environment
            require_recent_pass(conn, "parity", 24, "production")
    execute(
        migrated, "UPDATE activity_migration.validation_results SET run_at = run_at - interval '30 hours'"
    )
    with connection(migrated) as conn:
        with pytest.raises(GateClosed, match=r"older than the allowed 24 h"):
            require_recent_pass(conn, "parity", 24, "staging")
        assert require_recent_pass(conn, "parity", 48, "staging")["success"]
    execute(migrated, "DELETE FROM public.events WHERE id = (SELECT id FROM public.events LIMIT 1)")
    assert not run_suites(migrated, ["parity"], "full", RunContext(environment="staging"), tmp_path).success
    with connection(migrated) as conn:
        with pytest.raises(GateClosed, match="FAILED with 4 failed expectation"):
            require_recent_pass(conn, "parity", 48, "staging")
        section = validation_section(conn, load_config())
    assert section["results"][0]["status"] == "FAILED"
    assert section["parity_counts_by_entity_type"]["table"][-1]["entity_type"] == "TOTAL"


def test_incremental_pass_does_not_open_a_full_gate(migrated, tmp_path):
    ctx = RunContext(environment="staging")
    run_suites(migrated, ["parity"], "full", ctx, tmp_path)
    execute(
        migrated, "UPDATE activity_migration.validation_results SET run_at = run_at - interval '30 hours'"
    )
    assert (
        run_suites(migrated, ["parity"], "incremental", ctx, tmp_path, full_check_below_rows=0).scope
        == "incremental"
    )
    with connection(migrated) as conn:
        with pytest.raises(GateClosed, match="older than"):
            require_recent_pass(conn, "parity", 24, "staging")
        assert require_recent_pass(conn, "parity", 24, "staging", scope=None)["scope"] == "incremental"
