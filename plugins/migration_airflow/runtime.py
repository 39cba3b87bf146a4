"""From an Airflow task context to the core's inputs: DSN, RunContext, config, Params.

Connection lookup goes through Airflow (so connections from the metadata DB, env vars or
a secrets backend all work); an entry marked ``embedded`` starts the project's private
Postgres, as the CLI does. Secrets never reach the logs: DSNs are only logged redacted.

``params_of`` is the one place tasks read the run's Params: in production it applies the
production limits of ``activity_migration.run_rules`` (a gate-weakening value is clamped to its
limit with a WARNING; ``allow_without_cutoff=true`` is refused), so no task can use a weaker value
than the limit. ``param_clamps`` lists what was clamped, for the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from activity_migration.connections import ENVIRONMENT_CONN_IDS, ConnectionSpec, dsn_of, resolve_dsn
from activity_migration.errors import ConfigError
from activity_migration.ledger import RunContext
from activity_migration.run_rules import known_user, log_clamp, production_params

_LOGGED_CLAMPS: set[tuple[Any, ...]] = set()  # one WARNING per run, Param and value in a process


def conn_id_for(environment: str) -> str:
    try:
        return ENVIRONMENT_CONN_IDS[environment]
    except KeyError:
        raise ConfigError(
            f"environment must be one of {sorted(ENVIRONMENT_CONN_IDS)}, got {environment!r}"
        ) from None


def dsn_for_conn_id(conn_id: str) -> str:
    """libpq DSN of an Airflow connection (Airflow's lookup first, then airflow_settings.yaml)."""
    try:
        from airflow.sdk import Connection

        conn = Connection.get(conn_id)
    except Exception:  # not found in Airflow (e.g. outside a task): the core's own lookup
        return resolve_dsn(conn_id)
    spec = ConnectionSpec(
        conn_id,
        conn.conn_type or "postgres",
        conn.host,
        conn.port,
        conn.login,
        conn.password,
        conn.schema,
        dict(conn.extra_dejson or {}),
    )
    return dsn_of(spec)


def raw_params(context: dict[str, Any]) -> dict[str, Any]:
    """The run's Params exactly as triggered (before the production limits)."""
    return dict(context.get("params") or {})


def params_of(context: dict[str, Any]) -> dict[str, Any]:
    """The run's Params as tasks must use them: in production, with the production limits applied.

    :raises ConfigError: a Param production refuses (``allow_without_cutoff=true``)
    """
    params, _ = _effective(context)
    return params


def param_clamps(context: dict[str, Any], *names: str) -> list[dict[str, Any]]:
    """The production clamps of this run (only those of ``names`` when given), for ledger details."""
    _, clamps = _effective(context)
    return [c for c in clamps if not names or c["param"] in names]


def _effective(context: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    raw = raw_params(context)
    params, clamps = production_params(raw.get("environment", "staging"), raw, log_clamps=False)
    run_id = getattr(context.get("dag_run"), "run_id", None)
    for clamp in clamps:
        key = (run_id, clamp["param"], repr(clamp["asked"]))
        if key not in _LOGGED_CLAMPS:
            _LOGGED_CLAMPS.add(key)
            log_clamp(clamp)
    return params, clamps


def triggering_user(context: dict[str, Any]) -> str | None:
    """Who triggered the run (``dag_run.triggering_user_name``); None for a scheduled run or ``dags test``."""
    return known_user(getattr(context.get("dag_run"), "triggering_user_name", None))


def dsn_from_context(context: dict[str, Any]) -> str:
    return dsn_for_conn_id(conn_id_for(params_of(context).get("environment", "staging")))


def run_context(context: dict[str, Any], actor: str | None = None) -> RunContext:
    params = params_of(context)
    dag_run = context.get("dag_run")
    return RunContext(
        environment=params.get("environment", "staging"),
        mode=params.get("mode", "normal"),
        dag_run_id=getattr(dag_run, "run_id", None),
        actor=actor,
    )


@dataclass(frozen=True)
class TaskInputs:
    """What a task hands the core: the run's database, the config, who/where, the Params (limited)."""

    dsn: str
    cfg: Any
    ctx: RunContext
    params: dict[str, Any]

    @property
    def core(self) -> tuple[str, Any, RunContext]:
        """``(dsn, cfg, ctx)``: the first arguments of every phase step."""
        return self.dsn, self.cfg, self.ctx


def task_inputs(context: dict[str, Any]) -> TaskInputs:
    from activity_migration.config import load_config

    return TaskInputs(dsn_from_context(context), load_config(), run_context(context), params_of(context))


def run_step(steps: Any, name: str, context: dict[str, Any]) -> dict[str, Any]:
    """Run the phase step called ``name`` (a ledgered function of the phase's ``STEPS``)."""
    fn = {f.step: f for f in steps}[name]
    return fn(*task_inputs(context).core)


def warn_if_same_database(context: dict[str, Any]) -> bool:
    """Production runs: log a WARNING when staging and production resolve to one database.

    Called by the first task of every phase DAG (``outcome_baseline``), so the warning is in the
    run's first log; the status page shows the same as a banner. True when it warned.
    """
    import logging

    from activity_migration.db import connection, redact
    from activity_migration.rehearsal_staging import database_identity, same_database

    if run_context(context).environment != "production":
        return False
    log = logging.getLogger(__name__)
    try:
        dsns = [dsn_for_conn_id(conn_id_for(env)) for env in ("staging", "production")]
        ids = []
        for dsn in dsns:
            with connection(dsn, connect_timeout=5) as conn:
                ids.append(database_identity(conn))
    except Exception as exc:  # e.g. no staging connection: nothing to compare
        log.info("staging/production database comparison skipped: %s", type(exc).__name__)
        return False
    if not same_database(ids[0], ids[1]):
        return False
    log.warning(
        "staging and production resolve to the same database (%s): the staging and production ledgers "
        "are one, and no staging rehearsal can count for production. Point activity_db_staging at a "
        "separate database.",
        redact(dsns[1]),
    )
    return True
