"""The migration config: source shape, mapping, categories, tiers, thresholds.

Plain frozen dataclasses that validate themselves and raise ``ConfigError`` naming the
rule and the value. Loaded from ``include/config/migration.yaml`` unless
``ACTIVITY_MIGRATION_CONFIG`` points elsewhere.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, TypedDict

import yaml

from .db import PROJECT_ROOT
from .errors import ConfigError
from .watch_config import EventTypesConfig, RealtimeConfig, parse_event_types, parse_realtime

DEFAULT_CONFIG_PATH = PROJECT_ROOT / "include" / "config" / "migration.yaml"

# Event fields a source column can feed. ``action`` and ``metadata`` are source-side
# names: action becomes event_type (with the entity type), metadata becomes payload.
MAPPABLE_FIELDS = (
    "actor_id",
    "customer_id",
    "action",
    "entity_type",
    "entity_id",
    "description",
    "metadata",
    "ip_address",
    "user_agent",
    "occurred_at",
)
REQUIRED_FIELDS = ("action", "entity_type", "occurred_at")

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
_CATEGORY = re.compile(r"^[a-z][a-z0-9_]*$")


def _ident(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _IDENT.match(value) or len(value) > 63:
        raise ConfigError(
            f"{what} must be a plain SQL identifier (letters, digits, _; max 63), got {value!r}"
        )
    return value


def _qualified(value: Any, what: str) -> tuple[str, str]:
    if not isinstance(value, str):
        raise ConfigError(f"{what} must be 'schema.table', got {value!r}")
    parts = value.split(".")
    if len(parts) == 1:
        parts = ["public", parts[0]]
    if len(parts) != 2:
        raise ConfigError(f"{what} must be 'schema.table', got {value!r}")
    return _ident(parts[0], what), _ident(parts[1], what)


@dataclass(frozen=True)
class SourceConfig:
    schema: str
    table: str
    key: str
    columns: dict[str, str]

    def __post_init__(self) -> None:
        _ident(self.schema, "source.schema")
        _ident(self.table, "source.table")
        _ident(self.key, "source.key")
        unknown = set(self.columns) - set(MAPPABLE_FIELDS)
        if unknown:
            raise ConfigError(
                f"source.columns has unknown event fields {sorted(unknown)}; allowed: {list(MAPPABLE_FIELDS)}"
            )
        missing = [f for f in REQUIRED_FIELDS if f not in self.columns]
        if missing:
            raise ConfigError(f"source.columns must map the required fields {missing}")
        for name, col in self.columns.items():
            _ident(col, f"source.columns.{name}")

    def column(self, event_field: str) -> str | None:
        return self.columns.get(event_field)

    def required_column(self, event_field: str) -> str:
        """The source column of a field every config maps (REQUIRED_FIELDS, checked on load)."""
        col = self.columns.get(event_field)
        if col is None:
            raise ConfigError(f"source.columns must map the required fields [{event_field!r}]")
        return col


@dataclass(frozen=True)
class Tier:
    tier: int
    name: str
    tables: tuple[tuple[str, str], ...]

    def __post_init__(self) -> None:
        if not isinstance(self.tier, int) or self.tier < 1:
            raise ConfigError(f"tier numbers are positive integers, got {self.tier!r}")
        if not self.tables:
            raise ConfigError(f"tier {self.tier} claims no tables")

    @property
    def table_names(self) -> list[str]:
        return [f"{s}.{t}" for s, t in self.tables]


@dataclass(frozen=True)
class Rules:
    payload_max_bytes: int = 1048576
    occurred_at_min: str = "2000-01-01T00:00:00Z"
    occurred_at_max_future: str = "1 day"
    event_type_pattern: str = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$"
    event_type_max_length: int = 200

    def __post_init__(self) -> None:
        if not isinstance(self.event_type_max_length, int) or not 16 <= self.event_type_max_length <= 10_000:
            raise ConfigError(
                f"rules.event_type_max_length must be an integer between 16 and 10000, "
                f"got {self.event_type_max_length!r}"
            )
        if (
            not isinstance(self.payload_max_bytes, int)
            or not 1024 <= self.payload_max_bytes <= 100 * 1024 * 1024
        ):
            raise ConfigError(
                f"rules.payload_max_bytes must be an integer between 1 KiB and 100 MiB, got "
                f"{self.payload_max_bytes!r}"
            )
        try:
            re.compile(self.event_type_pattern)
        except re.error as exc:
            raise ConfigError(f"rules.event_type_pattern is not a valid regular expression: {exc}") from None


class DdlRetry(TypedDict):
    lock_timeout_ms: int
    attempts: int


@dataclass(frozen=True)
class Safety:
    lock_timeout_ms: int = 2000
    ddl_attempts: int = 10

    @property
    def ddl_retry(self) -> DdlRetry:
        """How DDL waits for its locks: ``db.run_locked`` / ``db.execute_ddl``'s keyword arguments."""
        return {"lock_timeout_ms": self.lock_timeout_ms, "attempts": self.ddl_attempts}

    def __post_init__(self) -> None:
        if not 50 <= int(self.lock_timeout_ms) <= 60000:
            raise ConfigError(
                f"safety.lock_timeout_ms must be between 50 and 60000, got {self.lock_timeout_ms!r}"
            )
        if not 1 <= int(self.ddl_attempts) <= 100:
            raise ConfigError(f"safety.ddl_attempts must be between 1 and 100, got {self.ddl_attempts!r}")


_CHECK_PLACEHOLDER = re.compile(r"(?<!:):(customer_id|actor_id)\b")


@dataclass(frozen=True)
class Security:
    """Rules of the write API for callers that are not the service (docs/security.md).

    ``customer_check``: a boolean SQL expression that holds when ``:actor_id`` (the signed-in
    caller, ``auth.uid()``) may publish an event of customer ``:customer_id``, e.g. membership in
    the customer. It runs as the migration's role inside ``publish_activity``. Unset: a caller
    that is not the service may not name a customer at all (the safe default).
    """

    customer_check: str | None = None
    # legacy policy name -> its expression over the event columns, for a policy whose legacy
    # columns the mapping cannot translate (access_rules.py)
    read_policies: dict[str, str] = field(default_factory=dict)
    # group name -> SQL returning user ids: read parity samples users of every group (staff, clients)
    user_groups: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for what, value in (("read_policies", self.read_policies), ("user_groups", self.user_groups)):
            if not isinstance(value, dict) or not all(
                isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in value.items()
            ):
                raise ConfigError(f"security.{what} must map names to SQL text, got {value!r}")
        c = self.customer_check
        if c is None:
            return
        if not isinstance(c, str) or not c.strip():
            raise ConfigError(
                f"security.customer_check must be a SQL boolean expression or absent, got {c!r}"
            )
        if ":customer_id" not in {f":{m}" for m in _CHECK_PLACEHOLDER.findall(c)}:
            raise ConfigError(
                f"security.customer_check must use :customer_id (and usually :actor_id), got {c!r}"
            )
        if ";" in c or "$$" in c:
            raise ConfigError(f"security.customer_check must be one expression (no ';' or '$$'), got {c!r}")

    def customer_check_sql(self) -> str:
        """The expression with its placeholders as the parameters of ``customer_allowed($1, $2)``."""
        if self.customer_check is None:
            return "false"
        return _CHECK_PLACEHOLDER.sub(
            lambda m: "$1" if m.group(1) == "customer_id" else "$2", self.customer_check
        )


@dataclass(frozen=True)
class MigrationConfig:
    state_schema: str
    source: SourceConfig
    target_schema: str
    target_table: str
    rules: Rules
    categories: dict[str, str]
    tiers: tuple[Tier, ...]
    safety: Safety = field(default_factory=Safety)
    security: Security = field(default_factory=Security)
    path: Path | None = None
    event_types: EventTypesConfig = field(default_factory=EventTypesConfig)
    realtime: RealtimeConfig = field(default_factory=RealtimeConfig)

    def __post_init__(self) -> None:
        _ident(self.state_schema, "state_schema")
        _ident(self.target_schema, "target.schema")
        _ident(self.target_table, "target.table")
        if not self.categories:
            raise ConfigError("categories must map at least one entity type")
        for entity, cat in self.categories.items():
            if not isinstance(entity, str) or not entity:
                raise ConfigError(f"categories keys are entity types (non-empty strings), got {entity!r}")
            if not isinstance(cat, str) or not _CATEGORY.match(cat):
                raise ConfigError(f"category for {entity!r} must match {_CATEGORY.pattern}, got {cat!r}")
        numbers = [t.tier for t in self.tiers]
        if numbers != sorted(set(numbers)):
            raise ConfigError(f"tiers must be listed in increasing order without repeats, got {numbers}")
        seen: dict[str, int] = {}
        for t in self.tiers:
            for name in t.table_names:
                if name in seen:
                    raise ConfigError(f"table {name} is claimed by tiers {seen[name]} and {t.tier}")
                seen[name] = t.tier

    def tier(self, number: int) -> Tier:
        for t in self.tiers:
            if t.tier == number:
                return t
        raise ConfigError(f"no tier {number!r} in the config; tiers are {[t.tier for t in self.tiers]}")

    def tier_of_table(self, qualified_table: str) -> int | None:
        for t in self.tiers:
            if qualified_table in t.table_names:
                return t.tier
        return None

    @property
    def source_table(self) -> str:
        return f"{self.source.schema}.{self.source.table}"

    @property
    def target(self) -> str:
        return f"{self.target_schema}.{self.target_table}"


def parse_config(data: dict[str, Any], path: Path | None = None) -> MigrationConfig:
    if not isinstance(data, dict):
        raise ConfigError("the migration config must be a mapping")
    try:
        src = data["source"]
        source = SourceConfig(
            schema=src.get("schema", "public"),
            table=src["table"],
            key=src.get("key", "id"),
            columns=dict(src.get("columns") or {}),
        )
        target = data.get("target") or {}
        tiers = tuple(
            Tier(
                tier=t["tier"],
                name=str(t.get("name", f"tier {t['tier']}")),
                tables=tuple(_qualified(x, f"tiers[{t['tier']}].tables") for x in (t.get("tables") or ())),
            )
            for t in (data.get("tiers") or ())
        )
        return MigrationConfig(
            state_schema=data.get("state_schema", "activity_migration"),
            source=source,
            target_schema=target.get("schema", "public"),
            target_table=target.get("table", "events"),
            rules=Rules(**(data.get("rules") or {})),
            categories={str(k): v for k, v in (data.get("categories") or {}).items()},
            tiers=tiers,
            safety=Safety(**(data.get("safety") or {})),
            security=Security(**(data.get("security") or {})),
            path=path,
            event_types=parse_event_types(data.get("event_types")),
            realtime=parse_realtime(data.get("realtime")),
        )
    except KeyError as exc:
        raise ConfigError(f"the migration config is missing the key {exc.args[0]!r}") from None
    except TypeError as exc:
        raise ConfigError(f"the migration config has an unexpected key or value: {exc}") from None


def config_path() -> Path:
    return Path(os.environ.get("ACTIVITY_MIGRATION_CONFIG", DEFAULT_CONFIG_PATH))


@lru_cache(maxsize=8)
def _load_cached(path: str, mtime: float) -> MigrationConfig:
    with open(path) as fh:
        return parse_config(yaml.safe_load(fh), Path(path))


def load_config(path: Path | str | None = None) -> MigrationConfig:
    p = Path(path) if path else config_path()
    if not p.exists():
        raise ConfigError(f"migration config not found at {p}")
    return _load_cached(str(p), p.stat().st_mtime)
