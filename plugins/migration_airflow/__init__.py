"""Airflow-facing adapters: Params, approval gates, connection lookup, notifiers, the status page plugin."""
