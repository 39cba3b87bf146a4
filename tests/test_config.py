"""The migration config validates itself and names what is wrong."""

from __future__ import annotations

import copy

import pytest
import yaml

from activity_migration.config import DEFAULT_CONFIG_PATH, load_config, parse_config
from activity_migration.errors import ConfigError


@pytest.fixture
def raw():
    return yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())


def test_default_config_loads_with_five_tiers_over_eighteen_tables():
    cfg = load_config()
    assert [t.tier for t in cfg.tiers] == [1, 2, 3, 4, 5]
    assert sum(len(t.tables) for t in cfg.tiers) == 18
    assert cfg.tier_of_table("public.notifications") == 1
    assert cfg.tier_of_table("public.users") == 5
    assert cfg.tier_of_table("public.nope") is None


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d["source"].__setitem__("table", "activity_logs; drop table x"), "plain SQL identifier"),
        (lambda d: d["source"]["columns"].pop("action"), "required fields"),
        (lambda d: d["source"]["columns"].__setitem__("bogus", "x"), "unknown event fields"),
        (lambda d: d["tiers"][1]["tables"].append("public.notifications"), "claimed by tiers 1 and 2"),
        (lambda d: d["tiers"].reverse(), "increasing order"),
        (lambda d: d["categories"].__setitem__("user", "Not A Category"), "category for 'user'"),
        (lambda d: d["rules"].__setitem__("payload_max_bytes", 10), "payload_max_bytes"),
        (lambda d: d["safety"].__setitem__("lock_timeout_ms", 0), "lock_timeout_ms"),
        (lambda d: d.pop("source"), "missing the key 'source'"),
    ],
)
def test_invalid_config_is_refused_with_a_named_rule(raw, mutate, message):
    data = copy.deepcopy(raw)
    mutate(data)
    with pytest.raises(ConfigError, match=message):
        parse_config(data)


def test_config_path_can_be_overridden(tmp_path, monkeypatch, raw):
    raw["state_schema"] = "mig_state"
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("ACTIVITY_MIGRATION_CONFIG", str(path))
    assert load_config().state_schema == "mig_state"
