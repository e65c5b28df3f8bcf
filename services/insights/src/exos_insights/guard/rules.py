"""The guard's rules, as pure functions over ClickHouse's own parse trees.

A statement runs only if it is exactly one read-only SELECT (or WITH ... SELECT) that
reads allow-listed tables, uses no table function that reaches files, URLs or other
servers, no function that reads outside the allowed tables (dictionaries, Join tables,
files) and sets no settings. Each refusal names the rule it broke, so a user (and the
model, in its repair round) can see why.

The trees come from the engine (`exos_insights.guard.engine`): `EXPLAIN AST` for the
statement's shape and clauses, `EXPLAIN QUERY TREE run_passes = 0` for what it reads,
with CTE names scoped the way ClickHouse scopes them. Neither resolves nor runs anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from exos_insights.guard.tree import Node, tree_attr


class Refused(ValueError):
    """A statement the guard does not let through: `rule` is a stable code, `reason` the
    sentence shown to the user."""

    def __init__(self, rule: str, reason: str) -> None:
        super().__init__(reason)
        self.rule = rule
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Policy:
    database: str
    tables: frozenset[str]
    system_tables: frozenset[str]
    table_functions: frozenset[str]
    max_chars: int = 20_000


# Table functions that reach outside the database: named in the refusal so the reason is
# precise. Any table function off the allow-list is refused, listed here or not.
REMOTE_TABLE_FUNCTIONS = frozenset(
    {
        "url", "urlcluster", "file", "filecluster", "s3", "s3cluster", "gcs", "oss", "cosn",
        "remote", "remotesecure", "cluster", "clusterallreplicas", "mysql", "postgresql",
        "mongodb", "redis", "sqlite", "hdfs", "hdfscluster", "jdbc", "odbc",
        "azureblobstorage", "azureblobstoragecluster", "input", "executable",
        "executablepool", "deltalake", "deltalakecluster", "hudi", "hudicluster", "iceberg",
        "icebergs3", "icebergazure", "icebergcluster", "icebergs3cluster", "ytsaurus",
        "arrowflight", "fuzzjson", "fuzzquery", "dictionary", "merge", "view", "loop",
        "mergetreeindex", "mergetreeanalyzeindexes", "generaterandom", "timeseriesdata",
    }
)  # fmt: skip

# Ordinary functions that read data outside the statement's tables (files, dictionaries,
# Join tables, other servers' catalogs), leak server secrets, or only burn time.
_DENIED_FUNCTIONS = frozenset(
    {
        "file", "joinget", "joingetornull", "hascolumnintable", "getclienthttpheader",
        "getsetting", "getsettingordefault", "getmacro", "getserversetting", "sleep",
        "sleepeachrow", "addresstoline", "addresstolinewithinlines", "addresstosymbol",
        "demangle", "logtrace", "catboostevaluate", "filesystemavailable",
        "filesystemcapacity", "filesystemunreserved", "hostname", "fqdn", "serveruuid",
        "getoskernelversion", "getserverport", "currentprofiles", "enabledprofiles",
        "defaultprofiles", "currentroles", "enabledroles", "defaultroles",
    }
)  # fmt: skip
_DENIED_PREFIXES = ("dictget", "dicthas", "dictisin")

# Functions whose second argument may name a table (`x IN some_table`).
_IN_FUNCTIONS = frozenset(
    {
        "in", "notin", "globalin", "globalnotin", "nullin", "notnullin", "globalnullin",
        "globalnotnullin",
    }
)  # fmt: skip
_CHILDREN = re.compile(r"\(children (\d+)\)$")
_TABLE_POSITIONS = frozenset(
    {"JOIN TREE", "TABLE EXPRESSION", "LEFT TABLE EXPRESSION", "RIGHT TABLE EXPRESSION"}
)
_STATEMENTS = {
    "SELECT": "",
    "WITH": "",
    "(": "",
    "INSERT": "DML",
    "DELETE": "DML",
    "UPDATE": "DML",
    "ALTER": "DDL",
    "CREATE": "DDL",
    "DROP": "DDL",
    "TRUNCATE": "DDL",
    "RENAME": "DDL",
    "ATTACH": "DDL",
    "DETACH": "DDL",
    "UNDROP": "DDL",
    "EXCHANGE": "DDL",
    "OPTIMIZE": "DDL",
    "GRANT": "access control",
    "REVOKE": "access control",
    "SET": "a settings change",
    "SYSTEM": "a SYSTEM command",
    "KILL": "a KILL command",
    "BACKUP": "a backup",
    "RESTORE": "a restore",
}


def check_text(sql: str, max_chars: int) -> None:
    """What can be said before parsing: something to run, not too long, no control
    characters (nothing a person types; a way to hide text from a reader)."""
    if not sql.strip():
        raise Refused("empty", "the statement is empty")
    if len(sql) > max_chars:
        raise Refused("too_long", f"the statement is longer than {max_chars} characters")
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in sql) or "\x7f" in sql:
        raise Refused("control_characters", "the statement contains control characters")


def check_statement_kind(canonical: str) -> None:
    """`canonical` is ClickHouse's own formatting of the one statement (`formatQuery`),
    which starts with the statement's keyword."""
    first = canonical.lstrip()[:1]
    word = "(" if first == "(" else canonical.split(None, 1)[0].upper()
    kind = _STATEMENTS.get(word, "not a SELECT")
    if kind:
        raise Refused(
            "not_select",
            f"{word} is {kind}: only one read-only SELECT (or WITH ... SELECT) may run",
        )


def check_quoted_names(canonical: str) -> None:
    """Quoted names are printed raw in the parse trees the guard reads: an escape (a line
    break in a backquoted alias) could forge lines, and `: ` could forge an attribute of
    a line (`AS "x, cte_name: secrets"`), so such names are refused outright. Scans the
    canonical text's quotes only: string literals are skipped, names collected."""
    i, n = 0, len(canonical)
    while i < n:
        quote = canonical[i]
        if quote not in "'`\"":
            i += 1
            continue
        j = i + 1
        while j < n and canonical[j] != quote:
            j += 2 if canonical[j] == "\\" else 1
        name = canonical[i + 1 : j]
        if quote != "'" and ("\\" in name or ": " in name or any(ord(ch) < 32 for ch in name)):
            raise Refused("quoted_name", "quoted names with escapes, control characters or ': '")
        i = j + 1


def check_ast(ast: Node, our_format: str) -> None:
    """The statement's shape from `EXPLAIN AST ... FORMAT <our_format>`: one SELECT
    query, no INTO OUTFILE, FORMAT or SETTINGS, no denied function, consistent tree."""
    if ast.kind not in ("SelectWithUnionQuery", "SelectIntersectExceptQuery"):
        raise Refused("not_select", f"{ast.kind} is not a SELECT query")
    for node in ast.walk():
        _check_declared_children(node)
        if node.kind in ("Set", "SetQuery"):
            raise Refused("settings", "SETTINGS clauses are not allowed: limits are the server's")
        if node.kind == "Function":
            check_function_name(node.text.split(" ")[1] if " " in node.text else "")
    for clause in ast.children[1:]:
        if clause.kind == "Literal":
            raise Refused("outfile", "INTO OUTFILE is not allowed: results come back as JSON")
        if clause.kind == "Identifier" and clause.text != f"Identifier {our_format}":
            raise Refused("format", "FORMAT clauses are not allowed: results come back as JSON")


def _check_declared_children(node: Node) -> None:
    """Each line says how many children it has; a line forged inside a name would add
    a node the count does not know about."""
    count = _CHILDREN.search(node.text)
    declared = int(count[1]) if count else 0
    if declared != len(node.children):
        raise Refused("malformed", "the statement's parse tree is not one the guard can read")


def check_function_name(name: str) -> None:
    lowered = name.lower()
    if lowered in _DENIED_FUNCTIONS or lowered.startswith(_DENIED_PREFIXES):
        raise Refused(
            "denied_function",
            f"function {name}() is not allowed: it reads outside the allowed tables "
            "or reaches the server itself",
        )


def check_query_tree(tree: Node, policy: Policy) -> list[str]:
    """What the statement reads, from the unresolved query tree: every table named in a
    FROM/JOIN (or as `x IN table`) that is not a CTE in scope must be allow-listed,
    every table function allow-listed. Returns the tables read, qualified."""
    read: list[str] = []
    _walk(tree, policy, scopes=[], parent="", read=read)
    return sorted(set(read))


def _walk(node: Node, policy: Policy, scopes: list[set[str]], parent: str, read: list[str]) -> None:
    if node.kind.startswith("SETTINGS"):
        raise Refused("settings", "SETTINGS clauses are not allowed: limits are the server's")
    if node.kind == "QUERY":
        _walk_query(node, policy, scopes, read)
        return
    if node.kind == "IDENTIFIER" and parent in _TABLE_POSITIONS:
        _check_table(_attr(node, "identifier"), policy, scopes, read)
    elif node.kind == "TABLE_FUNCTION":
        _check_table_function(_attr(node, "table_function_name"), policy)
    elif node.kind == "FUNCTION":
        name = _attr(node, "function_name")
        check_function_name(name)
        if name.lower() in _IN_FUNCTIONS:
            _check_in_operand(node, policy, scopes, read)
    # Section lines (`JOIN TREE`, `ARGUMENTS`) have no id; only a table position's own
    # section makes an IDENTIFIER directly under it a table.
    header = node.text if " id: " not in node.text else ""
    for child in node.children:
        _walk(child, policy, scopes, header, read)


def _walk_query(query: Node, policy: Policy, scopes: list[set[str]], read: list[str]) -> None:
    """A query's CTEs are visible in its body and in every nested query, and in later
    CTEs of the same WITH; a CTE's own body does not see its name (it would name the
    real table there)."""
    scope: set[str] = set()
    inner = [*scopes, scope]
    for section in query.children:
        if section.text == "WITH":
            for item in (c for lst in section.children for c in lst.children):
                is_cte = item.kind in ("QUERY", "UNION") and " cte_name: " in item.text
                cte = _attr(item, "cte_name") if is_cte else None
                _walk(item, policy, inner, "WITH", read)
                # Scalar aliases (`WITH 1 AS t`) never name a table: `FROM t` is the
                # real table t, so only CTEs join the scope.
                if cte:
                    scope.add(cte)
    for section in query.children:
        if section.text != "WITH":
            _walk(section, policy, inner, section.text, read)


def _check_in_operand(node: Node, policy: Policy, scopes: list[set[str]], read: list[str]) -> None:
    for arguments in node.children:
        for lst in arguments.children:
            if len(lst.children) != 2:
                continue
            operand = lst.children[1]
            if operand.kind == "IDENTIFIER":
                _check_table(_attr(operand, "identifier"), policy, scopes, read)
            elif operand.kind == "FUNCTION":
                # `x IN url(...)`: today's analyzer calls that an unknown function, but a
                # table function's name there is refused the same way as in FROM.
                name = _attr(operand, "function_name")
                if name.lower() in REMOTE_TABLE_FUNCTIONS:
                    _check_table_function(name, policy)


def _attr(node: Node, key: str) -> str:
    """The one value of `key` on the line: a second occurrence means a name carries the
    marker (`alias: "x, identifier: t"`), which is refused rather than guessed."""
    if node.text.count(f" {key}: ") != 1:
        raise Refused("malformed", "the statement's parse tree is not one the guard can read")
    return tree_attr(node, key) or ""


def _check_table(name: str, policy: Policy, scopes: list[set[str]], read: list[str]) -> None:
    database, _, table = name.rpartition(".")
    if not database and any(table in scope for scope in scopes):
        return
    if database.lower() == "system":
        if table in policy.system_tables:
            read.append(f"system.{table}")
            return
        raise Refused("system_table", f"system.{table} is not readable here")
    if database and database != policy.database:
        raise Refused(
            "other_database", f"{name}: only the tables of {policy.database} are readable"
        )
    if table not in policy.tables:
        allowed = ", ".join(sorted(policy.tables))
        raise Refused("table_not_allowed", f"table {table} is not on the allow-list ({allowed})")
    read.append(f"{policy.database}.{table}")


def _check_table_function(name: str, policy: Policy) -> None:
    # Before the allow-list: one that reaches files, URLs or other servers stays
    # refused even if EXOS_INSIGHTS_ALLOWED_TABLE_FUNCTIONS names it.
    if name.lower() in REMOTE_TABLE_FUNCTIONS:
        raise Refused(
            "table_function",
            f"table function {name}() is not allowed: it reaches files, URLs or other servers",
        )
    if name.lower() in policy.table_functions:
        return
    raise Refused("table_function", f"table function {name}() is not on the allow-list")
