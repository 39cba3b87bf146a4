"""Config of the event-type registry and of the realtime watch (``event_types:`` and ``realtime:``).

Both sections are optional: without them the feed has no label templates and the realtime
limits are those of Supabase's Free plan.

Realtime quotas per plan, as Supabase publishes them (https://supabase.com/docs/guides/realtime/limits,
read 2026-12): concurrent connections / messages per second: Free 200 / 100, Pro 500 / 500,
Pro without spend cap 10,000 / 2,500, Team 10,000 / 2,500 (Enterprise: set the figures of the
contract with ``max_concurrent_connections`` and ``max_messages_per_second``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError

LIMITS_SOURCE = "https://supabase.com/docs/guides/realtime/limits"
# plan -> (concurrent connections, messages per second)
PLAN_LIMITS: dict[str, tuple[int, int]] = {
    "free": (200, 100),
    "pro": (500, 500),
    "pro_no_spend_cap": (10_000, 2_500),
    "team": (10_000, 2_500),
}
GIB = 1024**3
_EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


@dataclass(frozen=True)
class EventTypesConfig:
    """``labels``: event type -> the feed's label template for it (e.g. "{actor} paid {amount}")."""

    labels: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.labels, dict):
            raise ConfigError(
                f"event_types.labels must map event types to label templates, got {self.labels!r}"
            )
        for key, value in self.labels.items():
            if not isinstance(key, str) or not _EVENT_TYPE.match(key):
                raise ConfigError(
                    f"event_types.labels: {key!r} is not an event type (entity.action, lower case)"
                )
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(
                    f"event_types.labels.{key} must be a non-empty label template, got {value!r}"
                )


@dataclass(frozen=True)
class RealtimeConfig:
    """The plan's realtime quota and the levels the watch judges by.

    ``warning_ratio`` / ``critical_ratio``: fractions of the plan's quota (connections, messages
    per second) at which the watch warns (nightly mail) or fails (phase 3's sensor). Slots:
    retained WAL in bytes. ``change_rate_hours``: the window whose busiest minute gives the
    change rate of events.
    """

    plan: str = "free"
    max_concurrent_connections: int | None = None
    max_messages_per_second: int | None = None
    warning_ratio: float = 0.8
    critical_ratio: float = 1.0
    slot_warning_bytes: int = 1 * GIB
    slot_critical_bytes: int = 4 * GIB
    change_rate_hours: float = 24.0
    publication: str = "supabase_realtime"

    def __post_init__(self) -> None:
        if self.plan not in PLAN_LIMITS:
            raise ConfigError(
                f"realtime.plan must be one of {sorted(PLAN_LIMITS)} "
                f"(source: {LIMITS_SOURCE}), "
                f"got {self.plan!r}"
            )
        for name in ("max_concurrent_connections", "max_messages_per_second"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
                raise ConfigError(f"realtime.{name} must be a positive integer or absent, got {v!r}")
        if not (0 < float(self.warning_ratio) <= float(self.critical_ratio) <= 10):
            raise ConfigError(
                f"realtime: 0 < warning_ratio <= critical_ratio <= 10 is required, got "
                f"{self.warning_ratio!r} / {self.critical_ratio!r}"
            )
        if not (0 < int(self.slot_warning_bytes) <= int(self.slot_critical_bytes)):
            raise ConfigError(
                f"realtime: 0 < slot_warning_bytes <= slot_critical_bytes is required, got "
                f"{self.slot_warning_bytes!r} / {self.slot_critical_bytes!r}"
            )
        if not (0 < float(self.change_rate_hours) <= 24 * 31):
            raise ConfigError(
                f"realtime.change_rate_hours must be between 0 and 744, got {self.change_rate_hours!r}"
            )

    @property
    def connections_limit(self) -> int:
        return self.max_concurrent_connections or PLAN_LIMITS[self.plan][0]

    @property
    def messages_limit(self) -> int:
        return self.max_messages_per_second or PLAN_LIMITS[self.plan][1]

    def limit_source(self, which: str) -> str:
        """Where a limit comes from, for messages: the config key, or the plan and the page."""
        key = f"max_{which}"
        if getattr(self, key) is not None:
            return f"realtime.{key} in the config"
        return f"Supabase plan {self.plan!r} ({LIMITS_SOURCE})"


def parse_event_types(data: Any) -> EventTypesConfig:
    return EventTypesConfig(labels=dict((data or {}).get("labels") or {}))


def parse_realtime(data: Any) -> RealtimeConfig:
    return RealtimeConfig(**(data or {}))
