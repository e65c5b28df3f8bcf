"""ClickHouse's own parse trees as Python trees.

`EXPLAIN AST` and `EXPLAIN QUERY TREE run_passes = 0` print the trees ClickHouse's parser
builds, one node per line, indented by depth. Reading those (instead of parsing SQL
ourselves) means the guard judges exactly what the engine will run. Both are parse-only:
nothing is resolved or executed to print them. Pure functions; no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass(slots=True)
class Node:
    text: str
    children: list[Node] = field(default_factory=list)

    @property
    def kind(self) -> str:
        """First word: `Function`, `TableIdentifier` (AST); `FUNCTION`, `JOIN TREE` ... (tree)."""
        return self.text.split(" ", 1)[0]

    def walk(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            yield from child.walk()


def parse_indented(lines: list[str]) -> Node:
    """Lines indented by depth (any unit) -> the root node. A blank or empty input is an
    error: the engine always prints at least the root."""
    stack: list[tuple[int, Node]] = []
    root: Node | None = None
    for line in lines:
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        node = Node(line.strip())
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if stack:
            stack[-1][1].children.append(node)
        elif root is None:
            root = node
        else:
            raise ValueError("the parse tree has more than one root")
        stack.append((indent, node))
    if root is None:
        raise ValueError("empty parse tree")
    return root


# ---- EXPLAIN AST lines: `Kind [name] [(alias a)] [(children n)]` ---------------------------

_AST_SUFFIX = re.compile(r"\s*\((?:alias [^)]*|children \d+)\)\s*$")


def ast_name(node: Node) -> str:
    """The name after the kind (function name, table or identifier), without the
    `(alias ...)` / `(children n)` suffixes the printer adds."""
    rest = node.text.split(" ", 1)[1] if " " in node.text else ""
    while True:
        trimmed = _AST_SUFFIX.sub("", rest)
        if trimmed == rest:
            return rest.strip()
        rest = trimmed


# ---- EXPLAIN QUERY TREE lines: `KIND id: n, key: value, ...` -------------------------------


def tree_attr(node: Node, key: str) -> str | None:
    """The value of `key: value` on a query-tree line. Names (identifier, function and
    table function names, CTE names) are printed last or before a known next key, so a
    value runs to the next `, key:` or the end of the line."""
    marker = f" {key}: "
    text = " " + node.text
    at = text.find(marker)
    if at < 0:
        return None
    value = text[at + len(marker) :]
    following = re.search(r", [a-z_]+: ", value)
    return value[: following.start()] if following else value
