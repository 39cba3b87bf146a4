"""The words an approver reads first: the summary block, trigger codes, thin baselines, phase 6's body."""

from __future__ import annotations

import pytest

from activity_migration.approval_text import (
    MIN_BASELINE_WRITES,
    baseline_writes_line,
    summary_block,
    trigger_enabled_label,
)
from activity_migration.phases.p5_approval_evidence import _baseline_lines
from activity_migration.phases.p6_gates import evidence_markdown


@pytest.mark.parametrize(
    ("code", "label"),
    [
        ("O", "enabled (origin)"),
        ("D", "disabled"),
        ("R", "replica only"),
        ("A", "always"),
        ("X", "unknown (X)"),
    ],
)
def test_trigger_enabled_codes_are_said_in_words(code, label):
    assert trigger_enabled_label(code) == label


def test_summary_block_opens_with_change_risk_undo_then_the_evidence_link():
    lines = summary_block(change="C", risk="R", undo="U", environment="staging")
    assert lines[:3] == ["- **Will change:** C", "- **Risk:** R", "- **Undo:** U"]
    assert "/migration-status/?env=staging" in lines[4]


def test_a_baseline_with_too_few_writes_says_so_and_what_to_do():
    thin = baseline_writes_line(0, 0.0, 120)
    assert "only 0 writes in 120 s" in thin.lower() and "means little" in thin
    assert "run the application's workload" in thin and "lengthen its window" in thin
    enough = baseline_writes_line(MIN_BASELINE_WRITES * 10, 8.3, 120)
    assert enough == f"application writes in the window: {MIN_BASELINE_WRITES * 10} (8.3/s over 120 s)"


def test_phase5_baseline_lines_use_the_translated_line():
    base = {
        "details": {
            "probe_ms": 0.4,
            "probe": {"writes_per_table": 20},
            "writes_total": 3,
            "writes_per_s": 0.0,
            "window": {"seconds": 120},
        }
    }
    text = "\n".join(_baseline_lines(base))
    assert "Only 3 writes in 120 s" in text


def test_phase6_body_starts_with_the_summary():
    body = evidence_markdown(
        {
            "source_table": "public.activity_logs",
            "archive": "activity_migration.activity_logs_archive",
            "legacy_functions": 19,
            "retention_days": 30,
            "keep_compat_view": True,
            "quarantine": {"quarantined": 0, "open": 0},
        },
        "production",
    )
    first = body.split("\n")
    assert first[0] == "### Cleanup of the legacy activity log"
    assert first[2].startswith("- **Will change:** the legacy table `public.activity_logs`")
    assert first[3].startswith("- **Risk:**") and first[4].startswith("- **Undo:**")
    assert "?env=production" in body
