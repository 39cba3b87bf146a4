"""The backfill's run parameters (DAG Params, CLI flags), validated in one place."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Mapping

from ..errors import ConfigError
from .throttle import ThrottleSettings

BOUNDS = {
    "chunk_target_seconds": (0.1, 60.0),
    "initial_chunk_rows": (100, 1_000_000),
    "max_parallel_chunks": (1, 32),
    "lease_seconds": (0.2, 86_400.0),
}


@dataclass(frozen=True)
class BackfillParams:
    """How the backfill runs.

    :param chunk_target_seconds: wanted duration of one chunk's transaction; chunk sizes adapt to it
    :param initial_chunk_rows: planned chunk size and the first chunk size of every worker
    :param max_parallel_chunks: number of workers copying at the same time
    :param lease_seconds: a 'running' chunk whose claim is older than this and whose row is not
        locked by a live copy is taken over by another worker (its worker died)
    :param dry_run: plan and report only; write nothing (not even the plan)
    :param allow_without_cutoff: start although phase 2 recorded no cutoff (tests, demos)
    :param replan: throw the existing chunk plan away and plan again
    :param defer_search_index: drop the full-text GIN index of events (CONCURRENTLY) before the
        copy and build it CONCURRENTLY after it (backfill/deferred_indexes.py)
    :param throttle: thresholds, overridden live by the ``backfill_throttle`` setting
    """

    chunk_target_seconds: float = 0.5
    initial_chunk_rows: int = 20_000
    max_parallel_chunks: int = 2
    lease_seconds: float = 60.0
    dry_run: bool = False
    allow_without_cutoff: bool = False
    replan: bool = False
    defer_search_index: bool = True
    throttle: ThrottleSettings = field(default_factory=ThrottleSettings)

    def __post_init__(self) -> None:
        for name, (lo, hi) in BOUNDS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
                raise ConfigError(
                    f"backfill parameter {name} must be between {lo:g} and {hi:g}, got {value!r}"
                )

    @property
    def min_chunk_rows(self) -> int:
        return max(50, self.initial_chunk_rows // 40)

    @property
    def max_chunk_rows(self) -> int:
        return max(self.initial_chunk_rows * 10, 1000)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> "BackfillParams":
        """Build from a Params/CLI dict.

        Keys that are not backfill parameters (environment, mode) are ignored.
        """
        values = dict(values or {})
        own = {f.name for f in fields(cls)} - {"throttle"}
        kwargs: dict[str, Any] = {}
        for name in own:
            if values.get(name) is not None:
                kwargs[name] = values[name]
        for name in ("initial_chunk_rows", "max_parallel_chunks"):
            if name in kwargs:
                kwargs[name] = int(kwargs[name])
        for name in ("chunk_target_seconds", "lease_seconds"):
            if name in kwargs:
                kwargs[name] = float(kwargs[name])
        for name in ("dry_run", "allow_without_cutoff", "replan", "defer_search_index"):
            if name in kwargs:
                kwargs[name] = _truthy(kwargs[name])
        throttle_keys = {k: values[k] for k in ThrottleSettings.names() if k in values}
        if "chunk_target_seconds" in kwargs:
            throttle_keys["chunk_target_seconds"] = kwargs["chunk_target_seconds"]
        kwargs["throttle"] = ThrottleSettings().merged(throttle_keys)
        return cls(**kwargs)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)
