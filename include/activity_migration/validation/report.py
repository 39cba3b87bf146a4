"""Reports with pandas: per entity type parity counts for the task log and ``status``."""

from __future__ import annotations

from typing import Any

import psycopg

from ..config import MigrationConfig
from ..ledger import state_schema_exists


def entity_type_frame(counts: list[dict[str, Any]]):
    """A DataFrame (entity_type, source_rows, quarantined_rows, event_rows, difference) from the counts."""
    import pandas as pd

    df = pd.DataFrame(counts, columns=["entity_type", "source_rows", "quarantined_rows", "event_rows"])
    if df.empty:
        return df.assign(difference=pd.Series(dtype="int64"))
    df["entity_type"] = df["entity_type"].fillna("(null)")
    df["difference"] = df["event_rows"] - df["source_rows"]
    total = df[["source_rows", "quarantined_rows", "event_rows", "difference"]].sum()
    df.loc[len(df)] = ["TOTAL", *total.tolist()]
    return df.set_index("entity_type")


def entity_type_table(counts: list[dict[str, Any]]) -> str:
    """The per entity type counts as a plain-text table (for task logs)."""
    df = entity_type_frame(counts)
    return "(no counts: full-scope parity not run)" if df.empty else df.to_string()


def validation_section(conn: psycopg.Connection, cfg: MigrationConfig) -> dict[str, Any]:
    """Status section: newest result per suite/scope/environment, and the last full parity counts."""
    from .gate import newest_results

    if not state_schema_exists(conn, cfg):
        return {"results": "state schema not created yet"}
    rows = newest_results(conn, cfg=cfg)
    out: dict[str, Any] = {
        "results": [
            {
                "suite": r["suite"],
                "scope": r["scope"],
                "environment": r["environment"],
                "status": "passed" if r["success"] else "FAILED",
                "failed_expectations": r["failed"],
                "at": r["run_at"].isoformat(timespec="seconds"),
                "data_docs": r["data_docs_path"],
            }
            for r in rows
        ]
    }
    full_parity = [
        r
        for r in rows
        if r["suite"] == "parity"
        and r["scope"] == "full"
        and (r["statistics"] or {}).get("entity_type_counts")
    ]
    if full_parity:
        newest = max(full_parity, key=lambda r: r["run_at"])
        df = entity_type_frame(newest["statistics"]["entity_type_counts"])
        out["parity_counts_by_entity_type"] = {
            "as_of": newest["run_at"].isoformat(timespec="seconds"),
            "environment": newest["environment"],
            "table": [
                {"entity_type": idx, **{k: int(v) for k, v in row.items()}} for idx, row in df.iterrows()
            ],
        }
    return out
