"""``activity-migration event-types list | register | describe``: the event-type registry.

``list`` shows every registered type and every type seen in events without registration
(``--refresh`` recounts first: one set-based scan of events; otherwise the counts are those of
the last recount, normally the nightly check's). ``register TYPE --by NAME`` registers a type
(category from its entity type unless ``--category``). ``describe TYPE`` shows one type with its
live count. Exit 1 from ``list`` while an unregistered type exists.
"""

from __future__ import annotations

import argparse

from ..config import load_config
from ..db import connection
from ..event_types import registry
from ._common import add_json_flag, database_command, database_dsn, print_json


def _list(args: argparse.Namespace) -> int:
    cfg = load_config()
    with connection(database_dsn(args)) as conn:
        if args.refresh:
            registry.refresh_counts(conn, cfg)
            conn.commit()
        rows = registry.list_types(conn, cfg)
        unregistered = registry.unregistered_event_types(conn, cfg)
    if args.json:
        print_json({"types": rows, "unregistered": unregistered})
        return 1 if unregistered else 0
    print(f"{'event type':44} {'category':20} {'reg':>4} {'label':>5} {'count':>9}  last seen")
    for r in rows:
        print(
            f"{r['event_type']:44} {str(r['category'] or '-'):20} {'yes' if r['registered'] else 'NO':>4} "
            f"{'yes' if r['has_label'] else 'no':>5} {r['event_count']:>9}  {r['last_seen'] or '-'}"
        )
    counted = max((r["counted_at"] for r in rows if r["counted_at"]), default=None)
    print(f"counts as of {counted or 'never (run with --refresh)'}")
    if unregistered:
        print(
            f"unregistered (live): "
            f"{', '.join(u['event_type'] + ' (' + str(u['event_count']) + ')' for u in unregistered)}"
        )
    return 1 if unregistered else 0


def _register(args: argparse.Namespace) -> int:
    cfg = load_config()
    with connection(database_dsn(args)) as conn:
        row = registry.register(
            conn,
            cfg,
            args.event_type,
            args.by,
            category=args.category,
            description=args.description,
            label=args.label,
        )
        conn.commit()
    print(
        f"registered {row['event_type']} (category {row['category']}) by {row['registered_by']} "
        f"at {row['registered_at']}" + ("" if row.get("label_template") else "; no label: shown raw")
    )
    return 0


def _describe(args: argparse.Namespace) -> int:
    cfg = load_config()
    with connection(database_dsn(args)) as conn:
        row = registry.describe(conn, cfg, args.event_type)
    if args.json:
        print_json(row)
        return 0
    for key, value in row.items():
        print(f"{key:18} {value}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "event-types",
        help="the event-type registry: list, register, describe",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    cmds = p.add_subparsers(dest="event_types_command", metavar="ACTION", required=True)
    ls = database_command(
        cmds,
        "list",
        _list,
        help="registered and unregistered types (exit 1 while one is unregistered)",
        description=None,
    )
    ls.add_argument("--refresh", action="store_true", help="recount from events first (one scan of events)")
    add_json_flag(ls, help=None)
    reg = database_command(cmds, "register", _register, help="register an event type", description=None)
    reg.add_argument("event_type")
    reg.add_argument("--by", required=True, help="who registers it (recorded)")
    reg.add_argument("--category", help="default: the category of its entity type in the config")
    reg.add_argument("--description")
    reg.add_argument("--label", help="the feed's label template (default: event_types.labels in the config)")
    desc = database_command(
        cmds,
        "describe",
        _describe,
        help="one type: registration, label, counts, live count",
        description=None,
    )
    desc.add_argument("event_type")
    add_json_flag(desc, help=None)
