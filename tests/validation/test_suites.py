"""The suite files load with every expectation (GX silently drops unknown types)."""

from __future__ import annotations

import json

import pytest

from activity_migration.errors import ConfigError
from activity_migration.validation.suites import SUITES, load_suite, read_suite

EXPECTED = {"parity": 17, "events_integrity": 12, "quarantine": 4}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_suite_loads_with_every_expectation(name):
    spec = read_suite(name)
    suite = load_suite(name)
    assert spec.expectation_count == EXPECTED[name]
    assert len(suite.expectations) == EXPECTED[name]
    assert suite.name == name and str(suite.id) == spec.data["id"]


def test_misspelled_expectation_type_is_refused(tmp_path):
    data = json.loads(read_suite("quarantine").path.read_text())
    data["expectations"][0]["type"] = "expect_column_valuez_to_not_be_null"
    (tmp_path / SUITES["quarantine"]).write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="declares 4 expectations but GX kept 3.*valuez"):
        load_suite("quarantine", tmp_path)


def test_parity_suite_covers_every_mapped_field():
    fields = {
        e["meta"].get("field")
        for e in read_suite("parity").data["expectations"]
        if e["meta"].get("check") == "mismatch"
    }
    assert fields == {
        "actor_id",
        "customer_id",
        "event_type",
        "entity_type",
        "entity_id",
        "description",
        "payload",
        "ip_address",
        "user_agent",
        "occurred_at",
    }
