"""Core of the activity-log migration: no Airflow imports (enforced by tests/test_core_has_no_airflow.py)."""
