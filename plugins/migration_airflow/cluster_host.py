"""The host name a task instance records, for several Celery workers on one machine.

Airflow records ``task_instance.hostname`` from ``[core] hostname_callable`` (default: the
machine's FQDN). On a real cluster each worker has its own host name and nothing is needed.
The local cluster (scripts/airflow_cluster.py) runs two workers on one machine and points
``AIRFLOW__CORE__HOSTNAME_CALLABLE`` here, with ``MIGRATION_WORKER_HOSTNAME`` set per worker,
so the UI and the REST API show which worker ran each task. Without that variable: the FQDN.
"""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    return os.environ.get("MIGRATION_WORKER_HOSTNAME") or socket.getfqdn()
