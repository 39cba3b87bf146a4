"""The shape rules of docs/architecture.md ("Style"), checked on the source: SQL in include/sql,
small modules and functions.

The demo application's simulated app code (include/activity_migration/demo/) is exempt: it plays
an application, not the migration.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 60
_SQL_START = re.compile(
    r"^\s*\(?\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|ALTER|DROP|GRANT|REVOKE|WITH|COMMENT\s+ON|LOCK|"
    r"TRUNCATE|REFRESH|ANALYZE|VACUUM|COPY|EXPLAIN)\b",
)  # case-sensitive: the project writes SQL keywords in capitals, prose ("Copy the …") is not SQL


def _sources() -> list[Path]:
    files = [p for top in ("include", "plugins") for p in sorted((ROOT / top).rglob("*.py"))]
    return [p for p in files if "activity_migration/demo/" not in p.as_posix()]


def _literal_text(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)
        )
    return None


def multi_line_sql_literals(tree: ast.AST) -> list[int]:
    """Lines where a SQL string literal spans several lines (newlines or adjacent pieces)."""
    found = []
    for node in ast.walk(tree):
        text = _literal_text(node)
        if text is not None and node.end_lineno > node.lineno and _SQL_START.match(text):
            found.append(node.lineno)
    return found


def long_functions(tree: ast.AST) -> list[tuple[str, int]]:
    return [
        (node.name, node.end_lineno - node.lineno + 1)
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]


def test_the_detector_sees_both_kinds_of_multi_line_sql():
    tree = ast.parse('a = """\nSELECT 1\n"""\nb = ("SELECT x "\n     "FROM t")\nc = "SELECT 1"\n')
    assert multi_line_sql_literals(tree) == [1, 4]


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_module_keeps_sql_in_files_and_stays_small(path: Path):
    text = path.read_text()
    tree = ast.parse(text)
    rel = path.relative_to(ROOT)
    assert not multi_line_sql_literals(tree), (
        f"{rel}: multi-line SQL literal(s) at lines {multi_line_sql_literals(tree)}: "
        "move them to include/sql/<phase>/NN_verb_object.sql and load_sql() them"
    )
    assert text.count("\n") <= MAX_MODULE_LINES, f"{rel}: over {MAX_MODULE_LINES} lines; split it by job"
    assert not long_functions(tree), (
        f"{rel}: functions over {MAX_FUNCTION_LINES} lines: {long_functions(tree)}"
    )
