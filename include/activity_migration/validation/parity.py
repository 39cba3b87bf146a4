"""Postgres does the parity work: collect the differences between the source and events.

One pass in SQL (``include/sql/validation``) writes the differences into a session temp
table, classifies them, and stores one findings row per check in
``<state>.parity_findings``; the parity suite (GX) then judges those findings. Scope:

- ``full``: one FULL JOIN of ``activity_logs`` and ``events`` aggregated into per entity
  type / day counts and a count of the rows that differ (each table read once); only when
  some row differs, a second pass lists those rows;
- ``incremental``: source rows created since a watermark, plus a rolling sample of older
  rows sized by a budget (half as many as the new rows), each probed in events through the
  unique legacy-id index in one pass; events created since the watermark or in the sampled
  key range, probed in the source (orphans); and exact whole-table counts: its cost grows
  with new rows, not with the table.

The work is split by job; this module gathers the public names:

- ``parity_identifiers``: the checks, the field comparison and the identifiers the SQL files
  are filled with (read from the config and the catalog);
- ``parity_scope``: the scope of a run and the incremental scope's sample;
- ``parity_objects``: the parity views and tables, and the created_at indexes;
- ``parity_collect``: the collection itself and the findings it stores.
"""

from __future__ import annotations

from .parity_collect import ParityCollection, collect
from .parity_identifiers import (
    COUNT_CHECKS,
    MISMATCH_FIELDS,
    ROW_CHECKS,
    mismatch_exprs,
    systems_live,
    table_exists,
    view_identifiers,
)
from .parity_objects import (
    VALIDATION_TABLES,
    VALIDATION_VIEWS,
    drop_validation_objects,
    ensure_validation_objects,
    validation_index_names,
)
from .parity_scope import (
    Scope,
    estimated_source_rows,
    new_source_rows,
    sample_budget,
    sample_range,
)

__all__ = [
    "COUNT_CHECKS",
    "MISMATCH_FIELDS",
    "ROW_CHECKS",
    "VALIDATION_TABLES",
    "VALIDATION_VIEWS",
    "ParityCollection",
    "Scope",
    "collect",
    "drop_validation_objects",
    "ensure_validation_objects",
    "estimated_source_rows",
    "mismatch_exprs",
    "new_source_rows",
    "sample_budget",
    "sample_range",
    "systems_live",
    "table_exists",
    "validation_index_names",
    "view_identifiers",
]
