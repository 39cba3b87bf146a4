"""Rules about HOW a run may run, decided before anything changes (issue 16).

Three rules, shared by every DAG (the Airflow side calls them; this module imports no Airflow):

1. **Demo mode only on a demo database** (``require_demo_allowed``). ``mode = demo`` skips the
   human approvals; it is refused unless the database carries the mark the demo seeder writes
   (``COMMENT ON SCHEMA auth IS 'activity-migration demo seed v1'``, see
   ``include/sql/demo/09_mark_demo_seed.sql``), whatever the environment says.
2. **Production limits on gate-weakening Params** (``PRODUCTION_LIMITS``, ``production_params``).
   In production a Param that would weaken a gate is raised (or lowered) to its limit, with a
   WARNING naming the Param, the value asked and the limit, and the clamp is returned so the step
   that uses it records it in the ledger; a Param that would switch a safety off
   (``PRODUCTION_REFUSED``) fails the run instead. Staging is unchanged.
3. **Four eyes** (``parse_approvers``, ``approvers_for``, ``four_eyes``). In production an
   approval is answered only by a user listed in the Airflow Variable ``migration_approvers``
   and never by the user who triggered the run; staging allows a self-approval unless told not
   to.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any, Iterable, Mapping, TypedDict

import psycopg

from .db import load_sql
from .errors import ConfigError
from .production_limits import (
    PRODUCTION_LIMITS,
    PRODUCTION_REFUSED,
    limit_description,  # noqa: F401  (plugins import it from here)
    number_text,
)

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------
# 1. demo mode

# What ``activity-migration seed`` writes as the comment of schema auth (demo.app.SEED_MARKER is
# "activity-migration demo seed v1"); matched as a substring so a later seed version still counts.
DEMO_SEED_MARK = "activity-migration demo seed"
DEMO_SEED_MARK_SQL = "privileges/06_select_demo_seed_mark.sql"


def describe_database(conn: psycopg.Connection) -> str:
    """``database 'app' on host db.example.com:5432`` (no user, no password)."""
    info = conn.info
    host = info.host or "local socket"
    port = f":{info.port}" if info.port and not str(host).startswith("/") else ""
    return f"database {info.dbname!r} on host {host}{port}"


def is_demo_seeded(conn: psycopg.Connection) -> bool:
    """Does the database carry the demo seed's mark (the comment on schema ``auth``)?"""
    row = conn.execute(load_sql(DEMO_SEED_MARK_SQL), (DEMO_SEED_MARK,)).fetchone()
    return bool(row and row[0])


def require_demo_allowed(conn: psycopg.Connection, ctx: Any) -> None:
    """Refuse ``mode = demo`` on a database without the demo seed's mark (any environment).

    :param ctx: anything with ``mode`` and ``environment`` (``ledger.RunContext``)
    :raises ConfigError: naming the database (name and host) and the rule
    """
    if getattr(ctx, "mode", "normal") != "demo":
        return
    if is_demo_seeded(conn):
        return
    raise ConfigError(
        f"mode=demo refused on {describe_database(conn)} (environment {getattr(ctx, 'environment', '?')}): "
        "demo mode skips the human approvals and is allowed only on a database carrying the demo seed's "
        "mark (COMMENT ON SCHEMA auth IS 'activity-migration demo seed v1', written by `activity-migration "
        "seed`); this database has no such mark. Trigger the run with mode=normal and approve in Required "
        "Actions."
    )


# ---------------------------------------------------------------------------------------------
# 2. production limits on Params that weaken a gate


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def clamp_value(
    environment: str, param: str, value: Any, *, source: str = "Param"
) -> tuple[Any, dict[str, Any] | None]:
    """One value under the production rule of ``param``: ``(effective, clamp or None)``.

    ``None`` (unset) passes unchanged: the caller's fallback (a Variable, a default) is clamped
    when it is read. Outside production nothing changes.

    :param source: where the value came from, for messages (``Param``, ``Variable x``)
    :raises ConfigError: for a refused value, or a value that is not a number / not > 0 where required
    """
    if environment != "production":
        return value, None
    refused = PRODUCTION_REFUSED.get(param)
    if refused is not None:
        if value is not None and _truthy(value) == _truthy(refused.value):
            raise ConfigError(
                f"{param}={value!r} ({source}) is refused in production: {refused.why}. "
                f"Run without {param}, or in staging."
            )
        return value, None
    limit = PRODUCTION_LIMITS.get(param)
    if limit is None or value is None or value == "":
        return value, None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{param} ({source}) must be a number, got {value!r}") from None
    if math.isnan(number):
        raise ConfigError(f"{param} ({source}) must be a number, got {value!r}")
    if limit.positive and number <= 0:
        raise ConfigError(
            f"{param}={number_text(number)} ({source}) is refused in production: it must be more than 0 "
            f"and at most {number_text(limit.limit)} {limit.unit}".rstrip()
        )
    if not limit.weaker(number):
        return value, None
    effective = (
        type(value)(limit.limit)
        if isinstance(value, (int, float)) and not isinstance(value, bool)
        else limit.limit
    )
    clamp = {
        "param": param,
        "asked": value,
        "limit": limit.limit,
        "effective": effective,
        "rule": f"production {'minimum' if limit.bound == 'min' else 'maximum'}",
        "source": source,
    }
    return effective, clamp


def clamp_message(clamp: Mapping[str, Any]) -> str:
    """``min_event_ratio=0.5 asked (Param) is below the production minimum 0.9: using 0.9``."""
    side = "below" if clamp["rule"].endswith("minimum") else "above"
    return (
        f"{clamp['param']}={clamp['asked']!r} asked ({clamp.get('source', 'Param')}) is {side} the "
        f"{clamp['rule']} {number_text(clamp['limit'])}: using {clamp['effective']!r}"
    )


def log_clamp(clamp: Mapping[str, Any], logger: logging.Logger | None = None) -> None:
    """The WARNING every clamp gets (naming the Param, the value asked and the limit)."""
    (logger or log).warning("production limit: %s", clamp_message(clamp))


def production_params(
    environment: str, params: Mapping[str, Any], *, log_clamps: bool = True
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The run's Params with the production limits applied: ``(effective_params, clamps)``.

    Each clamp is ``{"param", "asked", "limit", "effective", "rule", "source"}`` and is logged as a
    WARNING (unless ``log_clamps`` is false). Staging: the Params unchanged, no clamps.

    :raises ConfigError: a refused Param (``allow_without_cutoff=true``) or a nonsensical value
    """
    effective = dict(params)
    clamps: list[dict[str, Any]] = []
    if environment != "production":
        return effective, clamps
    for name in list(PRODUCTION_REFUSED) + list(PRODUCTION_LIMITS):
        if name not in effective:
            continue
        effective[name], clamp = clamp_value(environment, name, effective[name])
        if clamp:
            clamps.append(clamp)
            if log_clamps:
                log_clamp(clamp)
    return effective, clamps


def clamps_markdown(clamps: Iterable[Mapping[str, Any]]) -> str:
    """One Markdown line per clamp, for approval bodies and evidence ('' when none)."""
    lines = [
        f"- **production limit**: `{c['param']}` asked {c['asked']!r} ({c.get('source', 'Param')}), "
        f"used {c['effective']!r} ({c['rule']})"
        for c in clamps
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# 3. four eyes

APPROVERS_VARIABLE = "migration_approvers"
ALLOW_SELF_APPROVAL_IN_STAGING_VARIABLE = "migration_allow_self_approval_in_staging"

# ``triggering_user_name`` values that name nobody: ``airflow dags test`` records "dag_test".
_NOBODY = {"", "dag_test"}


class Approver(TypedDict):
    """A user who may answer an approval, as Airflow's HITL operators take one (their HITLUser)."""

    id: str
    name: str


def parse_approvers(value: Any) -> list[Approver]:
    """The Variable ``migration_approvers`` as HITL users ``[{"id", "name"}]``.

    Accepted: a JSON list of user ids (``["alice", "bob"]``) or of ``{"id", "name"}`` objects,
    or a comma-separated string (``alice, bob``). For Airflow's SimpleAuthManager the id is the
    username. Empty/unset gives ``[]``.

    :raises ConfigError: an entry that is neither a string nor an object with an ``id``
    """
    if value is None:
        return []
    items: Any = value
    if isinstance(value, (bytes, str)):
        text = value.decode() if isinstance(value, bytes) else value
        text = text.strip()
        if not text:
            return []
        if text[0] in '[{"':
            try:
                items = json.loads(text)
            except ValueError as exc:
                raise ConfigError(
                    f"Airflow Variable {APPROVERS_VARIABLE} is not valid JSON ({exc}): {text[:200]!r}; "
                    'use ["alice", "bob"], [{"id": "alice", "name": "Alice"}] or "alice, bob"'
                ) from None
        else:
            items = [p for p in text.replace(";", ",").split(",")]
    if isinstance(items, (str, dict)):
        items = [items]
    out: list[Approver] = []
    seen: set[str] = set()
    for item in items:
        if isinstance(item, str):
            uid = item.strip()
            name = uid
        elif isinstance(item, Mapping) and str(item.get("id") or "").strip():
            uid = str(item["id"]).strip()
            name = str(item.get("name") or uid).strip()
        elif isinstance(item, (int,)) and not isinstance(item, bool):
            uid = name = str(item)
        else:
            raise ConfigError(
                f"Airflow Variable {APPROVERS_VARIABLE}: entry {item!r} is neither a user id nor an "
                'object {"id": ..., "name": ...}'
            )
        if uid and uid not in seen:
            seen.add(uid)
            out.append({"id": uid, "name": name})
    return out


def known_user(name: Any) -> str | None:
    """The triggering user's name, or None when the run names nobody (scheduled, ``dags test``)."""
    text = str(name).strip() if name is not None else ""
    return None if text in _NOBODY else text


def user_label(user: Any) -> str:
    if isinstance(user, Mapping):
        return str(user.get("name") or user.get("id") or "unknown")
    return str(user) if user else "unknown"


def same_user(user: Any, name: str | None) -> bool:
    """Is the HITL user ``user`` (``{"id", "name"}`` or a string) the user named ``name``?"""
    if not name:
        return False
    if isinstance(user, Mapping):
        return name in {str(user.get("id") or ""), str(user.get("name") or "")}
    return str(user or "") == name


def approvers_for(approvers: list[Approver], triggering_user: str | None) -> list[Approver]:
    """Who may answer: the listed approvers minus the user who triggered the run."""
    return [a for a in approvers if not same_user(a, triggering_user)]


def allow_self_approval(environment: str, staging_setting: Any = None) -> bool:
    """Never in production; in staging per ``migration_allow_self_approval_in_staging`` (default true)."""
    if environment == "production":
        return False
    if staging_setting is None or (isinstance(staging_setting, str) and not staging_setting.strip()):
        return True
    return _truthy(staging_setting)


def four_eyes(
    *,
    environment: str,
    responder: Any,
    triggering_user_name: Any,
    approved: bool,
    staging_setting: Any = None,
    approvers: list[Approver] | None = None,
) -> dict[str, Any]:
    """May this answer stand?

    Returns ``{"allowed", "self_approval", "responder", "triggering_user", "note", "refused"}``.

    A Reject always stands (it only stops the run). An Approve is refused (``refused`` says why)

    - by the user who triggered the run: in production always, in staging when
      ``migration_allow_self_approval_in_staging`` is false (``staging_setting``);
    - in production, by a user not in ``approvers`` (the Variable ``migration_approvers`` as read
      when the answer arrives; the request was assigned to them, so this only catches answers the
      API let through anyway, e.g. with an all-admins auth manager).

    When the run names no triggering user the self-approval comparison cannot be made: allowed,
    and ``note`` says so (for the ledger).
    """
    trigger = known_user(triggering_user_name)
    verdict: dict[str, Any] = {
        "allowed": True,
        "self_approval": False,
        "responder": user_label(responder),
        "triggering_user": trigger,
        "note": None,
        "refused": None,
    }
    if not approved:
        return _rejection(verdict, responder, trigger)
    if environment == "production" and approvers is not None and not _is_approver(responder, approvers):
        return _refuse_non_approver(verdict, responder)
    if trigger is None:
        return _trigger_unknown(verdict, triggering_user_name)
    if not same_user(responder, trigger):
        return verdict
    return _self_approval(verdict, environment, responder, staging_setting)


def _is_approver(responder: Any, approvers: list[Approver]) -> bool:
    return any(same_user(responder, a["id"]) or same_user(responder, a["name"]) for a in approvers)


def _rejection(verdict: dict[str, Any], responder: Any, trigger: str | None) -> dict[str, Any]:
    """A Reject stands; noted when the user who triggered the run gave it."""
    if trigger and same_user(responder, trigger):
        verdict["note"] = "rejected by the user who triggered the run (a rejection only stops the run)"
    return verdict


def _refuse_non_approver(verdict: dict[str, Any], responder: Any) -> dict[str, Any]:
    verdict.update(
        allowed=False,
        refused="responder is not an approver",
        note=f"approval by {user_label(responder)} refused: not listed in the Airflow Variable "
        f"{APPROVERS_VARIABLE} (production approvals are answered only by the users listed there)",
    )
    return verdict


def _trigger_unknown(verdict: dict[str, Any], triggering_user_name: Any) -> dict[str, Any]:
    """Allowed: with no triggering user there is nobody to compare the approver with."""
    verdict["note"] = (
        "triggering user unknown (scheduled run, `airflow dags test` or a run without a user): "
        "the approver could not be compared with who triggered the run"
    )
    if triggering_user_name:
        verdict["triggering_user_recorded"] = str(triggering_user_name)
    return verdict


def _self_approval(
    verdict: dict[str, Any], environment: str, responder: Any, staging_setting: Any
) -> dict[str, Any]:
    """The responder triggered the run: allowed only where self-approval is."""
    verdict["self_approval"] = True
    if allow_self_approval(environment, staging_setting):
        verdict["note"] = (
            f"self-approval allowed in {environment} (Airflow Variable "
            f"{ALLOW_SELF_APPROVAL_IN_STAGING_VARIABLE} is not false)"
        )
        return verdict
    why = (
        "never in production"
        if environment == "production"
        else f"Airflow Variable {ALLOW_SELF_APPROVAL_IN_STAGING_VARIABLE} is false"
    )
    verdict.update(
        allowed=False,
        refused="self-approval refused",
        note=f"self-approval refused: {user_label(responder)} triggered this {environment} run and may "
        f"not approve it (four eyes: {why}); another approver must answer",
    )
    return verdict
