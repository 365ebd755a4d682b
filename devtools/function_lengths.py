"""Function lengths: the longest functions in a tree, measured from `def` to the function's last line.

    python -m devtools.function_lengths [folder ...] [--over N]

A function's length counts everything it spans (docstring, comments and the functions nested in it), so a
long function cannot hide its length in helpers defined inside it.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

LIMIT = 60


@dataclass(frozen=True)
class Function:
    path: str
    name: str
    line: int
    length: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line} {self.name} ({self.length} lines)"


def _functions(tree: ast.AST, path: str, prefix: str = "") -> Iterator[Function]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            name = f"{prefix}{node.name}"
            yield Function(path, name, node.lineno, (node.end_lineno or node.lineno) - node.lineno + 1)
            yield from _functions(node, path, f"{name}.")
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node, path, f"{prefix}{node.name}.")
        else:
            yield from _functions(node, path, prefix)


def function_lengths(roots: Iterable[Path]) -> list[Function]:
    """Every function and method under `roots` (files or folders), longest first."""
    found: list[Function] = []
    for root in roots:
        files = [root] if root.is_file() else sorted(root.rglob("*.py"))
        for path in files:
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            found.extend(_functions(tree, str(path)))
    return sorted(found, key=lambda function: (-function.length, function.path, function.line))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="List the longest functions; exit 1 if any reaches --over.")
    parser.add_argument("roots", nargs="*", type=Path, default=[Path("engines")], help="files or folders (engines)")
    parser.add_argument("--over", type=int, default=LIMIT, help=f"length that fails (default {LIMIT})")
    parser.add_argument("--top", type=int, default=10, help="how many of the longest to list (default 10)")
    args = parser.parse_args(argv)
    functions = function_lengths(args.roots)
    for function in functions[: args.top]:
        print(function)
    offenders = [function for function in functions if function.length >= args.over]
    print(f"{len(offenders)} function(s) of {args.over} lines or more, of {len(functions)}")
    return 1 if offenders else 0


if __name__ == "__main__":
    sys.exit(main())
