"""Make sure the application-database pool exists wherever the scheduler runs.

Every migration task takes a slot of the pool ``activity_db`` (airflow_settings.yaml). A
task in a pool that does not exist is never scheduled, silently. Our local commands create
the pool from airflow_settings.yaml; this plugin covers any other Airflow (a fresh
standalone, a platform deployment): when the plugin loads in a process that has the
metadata database (scheduler, API server), it creates the pool if it is missing, with the
slot count from airflow_settings.yaml, and never changes an existing pool.
"""

from __future__ import annotations

import logging

from airflow.plugins_manager import AirflowPlugin

log = logging.getLogger(__name__)


def ensure_app_db_pool() -> bool:
    """Create the pool when missing; True when this call created it."""
    from migration_airflow.dag_defaults import APP_DB_POOL

    try:
        from airflow import settings
        from airflow.models.pool import Pool
        from sqlalchemy.orm import Session

        # A private session, never Airflow's scoped one: plugins may load in the middle of
        # another session's work (e.g. `airflow dags test`), and closing the scoped session
        # here would detach that caller's objects.
        if settings.engine is None:
            return False
        with Session(bind=settings.engine) as session, session.begin():
            if Pool.get_pool(APP_DB_POOL, session=session) is not None:
                return False
            slots, description = 4, "Concurrent migration work on the application database"
            try:
                from activity_migration.connections import settings_pools

                for pool in settings_pools():
                    if pool.get("pool_name") == APP_DB_POOL:
                        slots = int(pool.get("pool_slot", slots))
                        description = pool.get("pool_description") or description
            except Exception:  # the settings file is optional outside this project folder
                pass
            Pool.create_or_update_pool(
                APP_DB_POOL, slots, description, include_deferred=False, session=session
            )
            log.info("created Airflow pool %s with %s slots", APP_DB_POOL, slots)
            return True
    except Exception as exc:  # no metadata DB in this process (task runners, parsing): nothing to do
        log.debug("pool check skipped: %s", exc)
        return False


class MigrationPoolPlugin(AirflowPlugin):
    name = "activity_migration_pool"

    @classmethod
    def on_load(cls, *args, **kwargs):
        ensure_app_db_pool()
