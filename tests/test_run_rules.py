"""Run rules (activity_migration.run_rules): demo mode only on a demo-marked database, production
limits on gate-weakening Params, four eyes. Real databases for the demo mark; the rest is pure."""

from __future__ import annotations

import logging

import psycopg
import pytest

from activity_migration import run_rules
from activity_migration.errors import ConfigError
from activity_migration.ledger import RunContext
from activity_migration.run_rules import (
    PRODUCTION_LIMITS,
    approvers_for,
    four_eyes,
    limit_description,
    parse_approvers,
    production_params,
    require_demo_allowed,
)

DEMO_PROD = RunContext(environment="production", mode="demo")
DEMO_STAGING = RunContext(environment="staging", mode="demo")
NORMAL_PROD = RunContext(environment="production", mode="normal")


# --- 1. demo mode ------------------------------------------------------------------------------


def test_demo_mode_refused_on_an_unmarked_database_naming_it(fresh_db):
    info = psycopg.conninfo.conninfo_to_dict(fresh_db)
    with psycopg.connect(fresh_db) as conn:
        for ctx in (DEMO_PROD, DEMO_STAGING):
            with pytest.raises(ConfigError) as exc:
                require_demo_allowed(conn, ctx)
            msg = str(exc.value)
            assert msg.startswith(
                f"mode=demo refused on database {info['dbname']!r} on host {info.get('host', '')}"
            )
            assert f"environment {ctx.environment}" in msg and "demo seed's mark" in msg
        require_demo_allowed(conn, NORMAL_PROD)  # normal mode needs no mark


def test_a_schema_auth_with_another_comment_is_no_mark(fresh_db):
    with psycopg.connect(fresh_db) as conn:
        conn.execute("CREATE SCHEMA auth")
        conn.execute("COMMENT ON SCHEMA auth IS 'Supabase auth'")
        conn.commit()
        assert not run_rules.is_demo_seeded(conn)
        with pytest.raises(ConfigError, match="mode=demo refused"):
            require_demo_allowed(conn, DEMO_PROD)


def test_demo_mode_allowed_on_the_seeded_demo_database(demo_db):
    with psycopg.connect(demo_db) as conn:
        assert run_rules.is_demo_seeded(conn)
        require_demo_allowed(conn, DEMO_PROD)
        require_demo_allowed(conn, DEMO_STAGING)


def test_the_mark_is_what_the_seeder_writes():
    from activity_migration.demo.app import SEED_MARKER

    assert run_rules.DEMO_SEED_MARK in SEED_MARKER


# --- 2. production limits ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "param, asked, limit",
    [
        ("min_event_ratio", 0.5, 0.9),
        ("rehearsal_max_age_days", 30, 14),
        ("retention_days", 0, 7),
        ("validation_max_age_hours", 500, 48),
    ],
)
def test_production_clamps_a_weak_value_to_its_limit(param, asked, limit, caplog):
    caplog.set_level(logging.WARNING, logger="activity_migration.run_rules")
    params = {"environment": "production", "mode": "normal", param: asked, "tier": 3}
    effective, clamps = production_params("production", params)
    assert effective[param] == limit and effective["tier"] == 3
    assert clamps == [
        {
            "param": param,
            "asked": asked,
            "limit": limit,
            "effective": limit,
            "rule": clamps[0]["rule"],
            "source": "Param",
        }
    ]
    assert clamps[0]["rule"] in ("production minimum", "production maximum")
    warning = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert (
        len(warning) == 1 and param in warning[0] and repr(asked) in warning[0] and f"{limit:g}" in warning[0]
    )
    assert params[param] == asked  # the caller's dict is not changed
    # staging is unchanged
    assert production_params("staging", {**params, "environment": "staging"}) == (
        {**params, "environment": "staging"},
        [],
    )


@pytest.mark.parametrize(
    "param, value",
    [
        ("min_event_ratio", 0.95),
        ("min_event_ratio", 0.9),
        ("rehearsal_max_age_days", 7),
        ("retention_days", 30),
        ("validation_max_age_hours", 24),
        ("validation_max_age_hours", 48),
    ],
)
def test_production_keeps_a_value_within_the_limit(param, value):
    assert production_params("production", {param: value}) == ({param: value}, [])


def test_allow_without_cutoff_is_refused_in_production_only():
    with pytest.raises(ConfigError, match=r"allow_without_cutoff=True \(Param\) is refused in production"):
        production_params("production", {"allow_without_cutoff": True})
    assert production_params("production", {"allow_without_cutoff": False})[0] == {
        "allow_without_cutoff": False
    }
    assert production_params("staging", {"allow_without_cutoff": True})[0] == {"allow_without_cutoff": True}


def test_rehearsal_max_age_must_be_positive_in_production():
    with pytest.raises(
        ConfigError,
        match=r"rehearsal_max_age_days=0 \(Param\) is refused in production: it must be "
        r"more than 0",
    ):
        production_params("production", {"rehearsal_max_age_days": 0})
    value, clamp = run_rules.clamp_value(
        "production", "rehearsal_max_age_days", "60", source="Variable migration_rehearsal_max_age_days"
    )
    assert value == 14 and clamp["source"] == "Variable migration_rehearsal_max_age_days"


def test_each_limit_has_a_form_sentence_naming_it():
    assert "at least 0.9" in limit_description("min_event_ratio")
    assert "at most 14 days" in limit_description("rehearsal_max_age_days")
    assert "0 or less is refused" in limit_description("rehearsal_max_age_days")
    assert "at least 7 days" in limit_description("retention_days")
    assert "at most 48 hours" in limit_description("validation_max_age_hours")
    assert "Refused in production" in limit_description("allow_without_cutoff")
    assert set(PRODUCTION_LIMITS) == {
        "min_event_ratio",
        "rehearsal_max_age_days",
        "retention_days",
        "validation_max_age_hours",
    }


# --- 3. four eyes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        ('["alice", "bob"]', [{"id": "alice", "name": "alice"}, {"id": "bob", "name": "bob"}]),
        (
            '[{"id": "7", "name": "Alice"}, {"id": "bob"}]',
            [{"id": "7", "name": "Alice"}, {"id": "bob", "name": "bob"}],
        ),
        ("alice, bob,,alice", [{"id": "alice", "name": "alice"}, {"id": "bob", "name": "bob"}]),
        ("", []),
        (None, []),
    ],
)
def test_approvers_variable_forms(value, expected):
    assert parse_approvers(value) == expected


def test_malformed_approvers_variable_is_a_clear_error():
    with pytest.raises(ConfigError, match="migration_approvers is not valid JSON"):
        parse_approvers('["alice"')
    with pytest.raises(ConfigError, match="neither a user id nor an object"):
        parse_approvers('[{"name": "no id"}]')


def test_the_triggering_user_is_never_an_approver():
    approvers = parse_approvers('["alice", {"id": "7", "name": "bob"}, "carol"]')
    assert approvers_for(approvers, "alice") == approvers[1:]
    assert approvers_for(approvers, "bob") == [approvers[0], approvers[2]]  # matched by name too
    assert approvers_for(approvers, None) == approvers


def test_four_eyes_verdicts():
    approvers = parse_approvers("alice, bob")
    alice = {"id": "alice", "name": "alice"}
    prod = dict(environment="production", approvers=approvers)
    refused = four_eyes(responder=alice, triggering_user_name="alice", approved=True, **prod)
    assert not refused["allowed"] and refused["refused"] == "self-approval refused"
    assert refused["self_approval"] and refused["triggering_user"] == "alice"
    assert four_eyes(responder=alice, triggering_user_name="bob", approved=True, **prod)["allowed"]
    # a self-Reject only stops the run: it stands
    assert four_eyes(responder=alice, triggering_user_name="alice", approved=False, **prod)["allowed"]
    # not an approver (e.g. let through by an all-admins auth manager)
    mallory = four_eyes(
        responder={"id": "mallory", "name": "mallory"}, triggering_user_name="bob", approved=True, **prod
    )
    assert not mallory["allowed"] and mallory["refused"] == "responder is not an approver"
    # unknown triggering user: allowed, and said so
    for nobody in (None, "dag_test"):
        unknown = four_eyes(responder=alice, triggering_user_name=nobody, approved=True, **prod)
        assert unknown["allowed"] and unknown["triggering_user"] is None and "unknown" in unknown["note"]
    # staging: self-approval allowed unless the Variable says false
    assert four_eyes(environment="staging", responder=alice, triggering_user_name="alice", approved=True)[
        "allowed"
    ]
    assert not four_eyes(
        environment="staging",
        responder=alice,
        triggering_user_name="alice",
        approved=True,
        staging_setting="false",
    )["allowed"]
