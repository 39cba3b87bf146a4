"""``activity-migration backfill-throttle``: show or change the live throttle of a running backfill."""

from __future__ import annotations

import argparse

from ..backfill.throttle import ThrottleSettings, read_overrides, write_overrides
from ..config import load_config
from ..db import connection
from ..errors import ConfigError
from ._common import database_command, database_dsn, print_json


def _pair(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    key, value = text.split("=", 1)
    return key.strip(), value.strip()


def _run(args: argparse.Namespace) -> int:
    cfg = load_config()
    changes = dict(args.set or [])
    unknown = set(changes) - set(ThrottleSettings.names())
    if unknown:
        raise ConfigError(f"unknown throttle setting(s) {sorted(unknown)}; known: {ThrottleSettings.names()}")
    if args.pause:
        changes["paused"] = True
    if args.resume:
        changes["paused"] = False
    with connection(database_dsn(args), autocommit=True) as conn:
        if changes or args.clear:
            overrides = write_overrides(conn, cfg, changes, by="cli backfill-throttle", clear=args.clear)
        else:
            overrides = read_overrides(conn, cfg)
    print_json({"overrides": overrides, "defaults": ThrottleSettings().as_dict()})
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = database_command(
        sub,
        "backfill-throttle",
        _run,
        help="show or change the running backfill's throttle (live)",
        description="Thresholds and pacing in the setting 'backfill_throttle' override the run's "
        "Params; workers re-read it before every chunk. Keys: "
        + ", ".join(ThrottleSettings.names())
        + ". Use null to switch a signal off.",
    )
    p.add_argument("--set", type=_pair, action="append", metavar="KEY=VALUE", help="override one setting")
    p.add_argument("--pause", action="store_true", help="hold every worker before its next chunk")
    p.add_argument("--resume", action="store_true", help="let paused workers go on")
    p.add_argument(
        "--clear", action="store_true", help="drop every override first (back to the run's Params)"
    )
