"""SQL text as tokens: the tokenizer, statement splitting and identifier quoting.

Used wherever the project reads SQL it did not write (legacy function bodies in phase 2,
legacy RLS expressions in phase 1) or composes identifiers into text the catalog prints.
The tokenizer keeps every character (the concatenation of all token texts is the input), so
a rewrite can replace exact spans and leave the rest byte for byte.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import MigrationError


class TokenizeError(MigrationError):
    """The body could not be tokenized (unterminated string, comment or dollar quote)."""


@dataclass(frozen=True)
class Token:
    kind: str   # ws, comment, string, dollar, qident, word, number, param, punct, op
    text: str
    start: int
    end: int

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else self.text

    def ident_name(self) -> str | None:
        """The identifier this token names (unquoted words fold to lower case)."""
        if self.kind == "word":
            return self.text.lower()
        if self.kind == "qident":
            return self.text[1:-1].replace('""', '"')
        return None


_DOLLAR_TAG = re.compile(r"\$([A-Za-z_\x80-\uffff][A-Za-z0-9_\x80-\uffff]*)?\$")
_PARAM = re.compile(r"\$\d+")
_OP_CHARS = set("+-*/<>=~!@#%^&|`?:")


def tokenize(src: str) -> list[Token]:
    """Split SQL or PL/pgSQL text into tokens; the concatenation of all token texts is ``src``."""
    out: list[Token] = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        start = i
        if c.isspace():
            while i < n and src[i].isspace():
                i += 1
            kind = "ws"
        elif src.startswith("--", i):
            j = src.find("\n", i)
            i = n if j < 0 else j + 1
            kind = "comment"
        elif src.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if src.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif src.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
            if depth:
                raise TokenizeError(f"unterminated block comment starting at offset {start}")
            kind = "comment"
        elif c in "eE" and i + 1 < n and src[i + 1] == "'":
            i += 2
            while True:
                if i >= n:
                    raise TokenizeError(f"unterminated E'' string starting at offset {start}")
                if src[i] == "\\":
                    i += 2
                elif src[i] == "'":
                    if i + 1 < n and src[i + 1] == "'":
                        i += 2
                    else:
                        i += 1
                        break
                else:
                    i += 1
            kind = "string"
        elif c == "'":
            i += 1
            while True:
                j = src.find("'", i)
                if j < 0:
                    raise TokenizeError(f"unterminated string starting at offset {start}")
                if j + 1 < n and src[j + 1] == "'":
                    i = j + 2
                    continue
                i = j + 1
                break
            kind = "string"
        elif c == '"':
            i += 1
            while True:
                j = src.find('"', i)
                if j < 0:
                    raise TokenizeError(f"unterminated quoted identifier starting at offset {start}")
                if j + 1 < n and src[j + 1] == '"':
                    i = j + 2
                    continue
                i = j + 1
                break
            kind = "qident"
        elif c == "$":
            m = _DOLLAR_TAG.match(src, i)
            p = _PARAM.match(src, i)
            if m and not p:
                tag = m.group(0)
                j = src.find(tag, m.end())
                if j < 0:
                    raise TokenizeError(f"unterminated dollar quote {tag} starting at offset {start}")
                i = j + len(tag)
                kind = "dollar"
            elif p:
                i = p.end()
                kind = "param"
            else:
                i += 1
                kind = "op"
        elif c.isalpha() or c == "_" or ord(c) > 127:
            while i < n and (src[i].isalnum() or src[i] in "_$" or ord(src[i]) > 127):
                i += 1
            kind = "word"
        elif c.isdigit():
            while i < n and (src[i].isalnum() or src[i] == "."):
                i += 1
            kind = "number"
        elif c in "(),;[].":
            i += 1
            kind = "punct"
        else:
            while i < n and src[i] in _OP_CHARS:
                i += 1
            if i == start:
                i += 1
            kind = "op"
        out.append(Token(kind, src[start:i], start, i))
    return out


def significant(tokens: list[Token]) -> list[Token]:
    return [t for t in tokens if t.kind not in ("ws", "comment")]


def split_top_level(tokens: list[Token], sep: str = ",") -> list[list[Token]]:
    """Split significant tokens at ``sep`` outside parentheses and brackets."""
    parts: list[list[Token]] = [[]]
    depth = 0
    for t in tokens:
        if t.kind == "punct" and t.text in "([":
            depth += 1
        elif t.kind == "punct" and t.text in ")]":
            depth -= 1
        if depth == 0 and t.kind == "punct" and t.text == sep:
            parts.append([])
        else:
            parts[-1].append(t)
    return parts


def split_statements(src: str) -> list[str]:
    """Split a multi-statement SQL script at top-level semicolons (comments stay with their statement)."""
    toks = tokenize(src)
    out, cur_start, depth = [], 0, 0
    for t in toks:
        if t.kind == "punct" and t.text in "([":
            depth += 1
        elif t.kind == "punct" and t.text in ")]":
            depth -= 1
        elif t.kind == "punct" and t.text == ";" and depth == 0:
            stmt = src[cur_start:t.start]
            if significant(tokenize(stmt)):
                out.append(stmt.strip())
            cur_start = t.end
    tail = src[cur_start:]
    if significant(tokenize(tail)):
        out.append(tail.strip())
    return out


def at_depth_zero(toks: list[Token], start: int = 0, end: int | None = None):
    """``(index, token)`` for each token of ``toks[start:end]`` outside parentheses and brackets."""
    depth = 0
    for j in range(start, len(toks) if end is None else end):
        t = toks[j]
        if t.kind == "punct" and t.text in "([":
            depth += 1
        elif t.kind == "punct" and t.text in ")]":
            depth -= 1
        elif depth == 0:
            yield j, t


def matching_paren(sig: list[Token], open_idx: int) -> int:
    depth = 0
    for k in range(open_idx, len(sig)):
        t = sig[k]
        if t.kind == "punct" and t.text in "([":
            depth += 1
        elif t.kind == "punct" and t.text in ")]":
            depth -= 1
            if depth == 0:
                return k
    return -1


def span_text(src: str, toks: list[Token]) -> str:
    return src[toks[0].start:toks[-1].end] if toks else ""


def quote_ident(name: str) -> str:
    """``name`` as Postgres prints an identifier: bare when lower-case plain, else double-quoted."""
    if re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        return name
    return '"' + name.replace('"', '""') + '"'
