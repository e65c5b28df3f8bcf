"""The guard's pure rules, on parse trees written out by hand in the engine's format, and
the chart choice. (The same rules against the engine: test_hostile.py, test_console.py.)"""

from __future__ import annotations

import pytest

from exos_insights.chart import choose_chart
from exos_insights.guard.rules import (
    Policy,
    Refused,
    check_ast,
    check_query_tree,
    check_quoted_names,
    check_statement_kind,
    check_text,
)
from exos_insights.guard.tree import ast_name, parse_indented, tree_attr
from exos_insights.llm import ChartSuggestion

POLICY = Policy(
    database="db",
    tables=frozenset({"otel_traces", "otel_logs"}),
    system_tables=frozenset({"one", "numbers"}),
    table_functions=frozenset({"numbers"}),
)


def tree(text: str) -> list[str]:
    return text.strip("\n").split("\n")


def rule_of(call: object) -> str:
    with pytest.raises(Refused) as refused:
        call()  # type: ignore[operator]
    return refused.value.rule


def test_indented_lines_become_a_tree() -> None:
    root = parse_indented(["A", " B", "  C", "", " B2"])
    assert [n.text for n in root.walk()] == ["A", "B", "C", "B2"]
    assert [c.text for c in root.children] == ["B", "B2"]
    with pytest.raises(ValueError):
        parse_indented(["A", "B"])  # two roots
    with pytest.raises(ValueError):
        parse_indented(["", "  "])


def test_names_and_attributes_of_lines() -> None:
    root = parse_indented(["Function count (alias c) (children 1)", " ExpressionList"])
    assert ast_name(root) == "count"
    line = parse_indented(["FUNCTION id: 9, alias: x, function_name: and, function_type: ordinary"])
    assert tree_attr(line, "function_name") == "and"
    assert tree_attr(line, "alias") == "x"
    assert tree_attr(line, "cte_name") is None
    ident = parse_indented(["IDENTIFIER id: 5, alias: a, identifier: db.otel_traces"])
    assert tree_attr(ident, "identifier") == "db.otel_traces"


def test_text_rules() -> None:
    assert rule_of(lambda: check_text("  \n", 100)) == "empty"
    assert rule_of(lambda: check_text("SELECT 1" + " " * 100, 100)) == "too_long"
    assert rule_of(lambda: check_text("SELECT 1\x00", 100)) == "control_characters"
    assert rule_of(lambda: check_text("SELECT \x1b[2J1", 100)) == "control_characters"
    check_text("SELECT 1\n\tFROM t\r\n", 100)


@pytest.mark.parametrize(
    ("canonical", "ok"),
    [("SELECT 1", True), ("WITH x AS (SELECT 1)\nSELECT * FROM x", True),
     ("(SELECT 1)\nUNION ALL\n(SELECT 2)", True), ("DROP TABLE t", False),
     ("INSERT INTO t VALUES", False), ("SHOW TABLES", False), ("EXPLAIN SELECT 1", False)],
)  # fmt: skip
def test_statement_kind(canonical: str, ok: bool) -> None:
    if ok:
        check_statement_kind(canonical)
    else:
        assert rule_of(lambda: check_statement_kind(canonical)) == "not_select"


def test_quoted_names_with_escapes_are_refused_strings_are_not() -> None:
    check_quoted_names("SELECT 'a\\nb `x\\n` \"y\\n\"' AS `plain name`")
    assert rule_of(lambda: check_quoted_names("SELECT 1 AS `a\\nb`")) == "quoted_name"
    assert rule_of(lambda: check_quoted_names('SELECT 1 AS "a\\tb"')) == "quoted_name"
    assert rule_of(lambda: check_quoted_names("SELECT 1 AS `x, cte_name: t`")) == "quoted_name"
    check_quoted_names("SELECT 1 AS `avg, ms` FROM t WHERE s = 'a: b'")


AST_SELECT = """
SelectWithUnionQuery (children 2)
 ExpressionList (children 1)
  SelectQuery (children 1)
   ExpressionList (children 1)
    Function count (children 1)
     ExpressionList
 Identifier TabSeparatedRaw
"""


def test_ast_of_a_plain_select_passes() -> None:
    check_ast(parse_indented(tree(AST_SELECT)), "TabSeparatedRaw")


@pytest.mark.parametrize(
    ("ast", "rule"),
    [
        (AST_SELECT.replace("Function count", "Function dictGetString"), "denied_function"),
        (AST_SELECT.replace("Function count", "Function FILE"), "denied_function"),
        (AST_SELECT.replace(" Identifier TabSeparatedRaw", " Identifier JSONEachRow"), "format"),
        (AST_SELECT.replace("(children 2)", "(children 3)", 1) + " Literal 'x.csv'", "outfile"),
        (AST_SELECT.replace("(children 2)", "(children 3)", 1) + " Set", "settings"),
        (AST_SELECT.replace("SelectWithUnionQuery", "DropQuery"), "not_select"),
        # a line forged inside a name: the counts no longer add up
        (AST_SELECT.replace("     ExpressionList", "     ExpressionList\n     Identifier x"),
         "malformed"),
    ],
)  # fmt: skip
def test_ast_refusals(ast: str, rule: str) -> None:
    assert rule_of(lambda: check_ast(parse_indented(tree(ast)), "TabSeparatedRaw")) == rule


QUERY_TREE = """
QUERY id: 0
  WITH
    LIST id: 1, nodes: 1
      QUERY id: 2, is_subquery: 1, is_cte: 1, cte_name: recent
        PROJECTION
          LIST id: 3, nodes: 1
            MATCHER id: 4, matcher_type: ASTERISK
        JOIN TREE
          IDENTIFIER id: 5, identifier: otel_traces
  PROJECTION
    LIST id: 6, nodes: 1
      MATCHER id: 7, matcher_type: ASTERISK
  JOIN TREE
    JOIN id: 8, strictness: ALL, kind: INNER
      LEFT TABLE EXPRESSION
        IDENTIFIER id: 9, alias: r, identifier: recent
      RIGHT TABLE EXPRESSION
        IDENTIFIER id: 10, alias: l, identifier: db.otel_logs
  WHERE
    FUNCTION id: 11, function_name: in, function_type: ordinary
      ARGUMENTS
        LIST id: 12, nodes: 2
          IDENTIFIER id: 13, identifier: r.SpanName
          IDENTIFIER id: 14, identifier: recent
"""


def test_query_tree_tables_with_ctes_in_scope() -> None:
    tables = check_query_tree(parse_indented(tree(QUERY_TREE)), POLICY)
    assert tables == ["db.otel_logs", "db.otel_traces"]


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        (("identifier: db.otel_logs", "identifier: secrets"), "table_not_allowed"),
        (("identifier: db.otel_logs", "identifier: other.otel_logs"), "other_database"),
        (("identifier: db.otel_logs", "identifier: system.users"), "system_table"),
        # `x IN table`: the second argument names a table
        (("identifier: r.SpanName\n          IDENTIFIER id: 14, identifier: recent",
          "identifier: r.SpanName\n          IDENTIFIER id: 14, identifier: system.users"),
         "system_table"),
        # a CTE's own body does not see its name: there it is the real table
        (("IDENTIFIER id: 5, identifier: otel_traces", "IDENTIFIER id: 5, identifier: recent"),
         "table_not_allowed"),
        (("function_name: in,", "function_name: joinGet,"), "denied_function"),
        (("IDENTIFIER id: 10, alias: l, identifier: db.otel_logs",
          "TABLE_FUNCTION id: 10, table_function_name: url"), "table_function"),
        (("IDENTIFIER id: 10, alias: l, identifier: db.otel_logs",
          "TABLE_FUNCTION id: 10, table_function_name: merge"), "table_function"),
        (("IDENTIFIER id: 10, alias: l, identifier: db.otel_logs",
          "IDENTIFIER id: 10, alias: l, identifier: x, identifier: db.otel_logs"), "malformed"),
        (("  WHERE", "  SETTINGS readonly=0\n  WHERE"), "settings"),
    ],
)  # fmt: skip
def test_query_tree_refusals(change: tuple[str, str], rule: str) -> None:
    old, new = change
    assert old in QUERY_TREE
    changed = parse_indented(tree(QUERY_TREE.replace(old, new)))
    assert rule_of(lambda: check_query_tree(changed, POLICY)) == rule


def test_a_cte_is_not_visible_outside_its_query() -> None:
    """`recent` is defined in a subquery; the outer FROM names the real table."""
    outer = """
QUERY id: 0
  JOIN TREE
    IDENTIFIER id: 1, identifier: recent
  WHERE
    FUNCTION id: 2, function_name: exists, function_type: ordinary
      ARGUMENTS
        LIST id: 3, nodes: 1
          QUERY id: 4, is_subquery: 1
            WITH
              LIST id: 5, nodes: 1
                QUERY id: 6, is_subquery: 1, is_cte: 1, cte_name: recent
                  JOIN TREE
                    IDENTIFIER id: 7, identifier: otel_traces
            JOIN TREE
              IDENTIFIER id: 8, identifier: recent
"""
    assert rule_of(lambda: check_query_tree(parse_indented(tree(outer)), POLICY)) == (
        "table_not_allowed"
    )


@pytest.mark.parametrize(
    ("suggested", "columns", "types", "rows", "expected"),
    [
        (ChartSuggestion(kind="bar", x="op", y=["n"]), ["op", "n"], ["String", "UInt64"],
         [["a", 1]], ChartSuggestion(kind="bar", x="op", y=["n"])),
        # names a column the result does not have: chosen from the types instead
        (ChartSuggestion(kind="bar", x="operator", y=["orders"]), ["op", "n"],
         ["String", "UInt64"], [["a", 1]], ChartSuggestion(kind="bar", x="op", y=["n"])),
        (None, ["day", "n"], ["Date", "UInt64"], [["2026-11-01", 3]],
         ChartSuggestion(kind="line", x="day", y=["n"])),
        (None, ["n"], ["Nullable(Float64)"], [[1.5]],
         ChartSuggestion(kind="number", x="", y=["n"])),
        (None, ["s"], ["String"], [["x"]], ChartSuggestion(kind="table", x="", y=[])),
        (ChartSuggestion(kind="number", x="", y=["n"]), ["n"], ["UInt64"], [[1], [2]],
         ChartSuggestion(kind="table", x="", y=[])),
    ],
)  # fmt: skip
def test_chart_choice(
    suggested: ChartSuggestion | None,
    columns: list[str],
    types: list[str],
    rows: list[list[object]],
    expected: ChartSuggestion,
) -> None:
    assert choose_chart(suggested, columns, types, rows) == expected
