"""Wrap what `ruff format` leaves over the line length: long string literals inside brackets
(split into adjacent literals at a space) and long comments (continued on the next line).

A one-off tool for the code base's own files; it changes no behaviour (adjacent literals are one
string to Python) and refuses to split inside an f-string's replacement field.
Usage: python scripts/wrap_long_lines.py LIMIT FILE...
"""

from __future__ import annotations

import io
import re
import sys
import tokenize
from pathlib import Path

PREFIX = re.compile(r"^([rRbBuUfF]{0,2})(['\"])")


def _split_point(body: str, limit: int, is_f: bool) -> int | None:
    """Index in ``body`` (the text between the quotes) after which to split, or None."""
    depth = 0
    best = None
    i = 0
    while i < len(body):
        c = body[i]
        if is_f and c in "{}":
            if i + 1 < len(body) and body[i + 1] == c:  # {{ or }}
                i += 2
                continue
            depth += 1 if c == "{" else -1
        elif c == "\\":
            i += 2
            continue
        elif c == " " and depth == 0 and 10 < i <= limit:
            best = i
        i += 1
    return best


def wrap_file(path: Path, limit: int) -> int:
    text = path.read_text()
    lines = text.splitlines(keepends=True)
    changed = 0
    toks = list(tokenize.generate_tokens(io.StringIO(text).readline))
    depth_at: dict[tuple[int, int], int] = {}
    depth = 0
    strings = []
    for t in toks:
        if t.type == tokenize.OP and t.string in "([{":
            depth += 1
        elif t.type == tokenize.OP and t.string in ")]}":
            depth -= 1
        elif t.type == tokenize.STRING and t.start[0] == t.end[0]:
            strings.append((t, depth))
    # last lines first, so earlier positions stay valid
    for t, d in sorted(strings, key=lambda x: (x[0].start[0], x[0].start[1]), reverse=True):
        row, col = t.start
        line = lines[row - 1]
        if len(line.rstrip("\n")) <= limit or d == 0 or t.end[1] <= limit:
            continue
        m = PREFIX.match(t.string)
        if not m or t.string.startswith(m.group(1) + m.group(2) * 3):
            continue
        prefix, quote = m.group(1), m.group(2)
        body = t.string[len(prefix) + 1 : -1]
        room = limit - col - len(prefix) - 2
        at = _split_point(body, room, "f" in prefix.lower())
        if at is None:
            continue
        first, rest = body[: at + 1], body[at + 1 :]
        rest_prefix = (
            prefix if ("f" not in prefix.lower() or "{" in rest) else prefix.replace("f", "").replace("F", "")
        )
        new = f"{prefix}{quote}{first}{quote}\n{' ' * col}{rest_prefix}{quote}{rest}{quote}"
        lines[row - 1] = line[:col] + new + line[t.end[1] :]
        changed += 1
    out = []
    for line in "".join(lines).splitlines(keepends=True):
        stripped = line.rstrip("\n")
        m = re.match(r"^(\s*)# (.*)$", stripped)
        if m and len(stripped) > limit:
            indent, words, cur = m.group(1), m.group(2).split(" "), ""
            for w in words:
                if cur and len(indent) + 2 + len(cur) + 1 + len(w) > limit:
                    out.append(f"{indent}# {cur}\n")
                    cur = w
                else:
                    cur = f"{cur} {w}" if cur else w
            out.append(f"{indent}# {cur}\n")
            changed += 1
        else:
            out.append(line)
    if changed:
        path.write_text("".join(out))
    return changed


if __name__ == "__main__":
    limit = int(sys.argv[1])
    total = sum(wrap_file(Path(p), limit) for p in sys.argv[2:])
    print(f"wrapped {total} places")
