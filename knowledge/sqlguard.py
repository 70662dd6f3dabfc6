"""Read-only SQL for ``indagent kg query``: one SELECT, checked, on a sandboxed read-only connection.

Two layers: :func:`check_select` refuses anything but a single SELECT (or WITH ... SELECT) and
file-reading table functions, with a clear message; :func:`run_readonly_query` then runs it on a
connection opened ``read_only`` with external access disabled and the configuration locked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
from pydantic import BaseModel

from tools.errors import ConfigError, IndagentError

__all__ = ["QueryRefused", "QueryResult", "check_select", "run_readonly_query"]

_FILE_FUNCS = {
    "glob", "read_csv", "read_csv_auto", "read_json", "read_json_auto", "read_json_objects", "read_ndjson",
    "read_ndjson_auto", "read_ndjson_objects", "read_parquet", "parquet_scan", "parquet_metadata", "parquet_schema",
    "parquet_file_metadata", "parquet_kv_metadata", "read_text", "read_blob", "sniff_csv", "read_xlsx",
    "sqlite_scan", "sqlite_attach", "postgres_scan", "postgres_query", "mysql_scan", "iceberg_scan", "delta_scan",
    "query", "query_table", "read_duckdb", "json_execute_serialized_sql", "load_aws_credentials", "duckdb_secrets",
}
_SCALAR_BLOCK = {"getenv", "json_execute_serialized_sql"}


class QueryRefused(IndagentError):
    """The SQL is not a single read-only SELECT; the message says why and what is allowed."""


class QueryResult(BaseModel):
    """Columns and rows of a read-only query (``truncated`` when more than ``max_rows`` rows matched)."""

    columns: list[str]
    rows: list[list[Any]]
    row_count: int
    truncated: bool


def _walk(node: Any) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    stack = [node]
    while stack:
        cur = stack.pop()
        if isinstance(cur, dict):
            t = cur.get("type")
            if isinstance(t, str):
                out.append((t, cur))
            stack.extend(cur.values())
        elif isinstance(cur, list):
            stack.extend(cur)
    return out


def check_select(sql: str) -> str:
    """Return the SQL when it is exactly one read-only SELECT; raise :class:`QueryRefused` otherwise."""
    text = sql.strip().rstrip(";").strip()
    if not text:
        raise QueryRefused("Empty query; give one SELECT statement, e.g. \"SELECT kind, count(*) FROM nodes GROUP BY 1\".")
    try:
        stmts = duckdb.extract_statements(text)
    except duckdb.Error as exc:
        raise QueryRefused(f"SQL syntax error: {' '.join(str(exc).split())}") from None
    if len(stmts) != 1:
        raise QueryRefused(f"Exactly one statement is allowed, got {len(stmts)}; run them one at a time.")
    kind = stmts[0].type
    if kind != duckdb.StatementType.SELECT:
        name = str(kind).rsplit(".", 1)[-1].replace("LOAD", "INSTALL/LOAD")
        raise QueryRefused(f"{name} statements are not allowed: 'kg query' is read-only; use SELECT or WITH ... SELECT.")
    con = duckdb.connect()
    try:
        ast = json.loads(con.execute("SELECT json_serialize_sql(?)", [text]).fetchall()[0][0])  # type: ignore[index]
    finally:
        con.close()
    if ast.get("error"):
        raise QueryRefused(f"Cannot check this query: {ast.get('error_message', 'unsupported SQL')}")
    for t, n in _walk(ast.get("statements", [])):
        if t == "TABLE_FUNCTION":
            fname = str((n.get("function") or {}).get("function_name", "")).lower()
            if fname in _FILE_FUNCS or fname.startswith("read_") or fname.endswith("_scan"):
                raise QueryRefused(f"Table function {fname}() reads files or other databases and is not allowed in "
                                   "'kg query'; import files with 'indagent kg import'.")
        elif t == "BASE_TABLE":
            name = str(n.get("table_name", ""))
            if any(c in name for c in "./\\:") or n.get("catalog_name") not in ("", None):
                raise QueryRefused(f"Reading {name!r} is not allowed: 'kg query' only reads the knowledge-graph tables.")
        elif t == "FUNCTION" and str(n.get("function_name", "")).lower() in _SCALAR_BLOCK:
            raise QueryRefused(f"Function {n.get('function_name')}() is not allowed in 'kg query'.")
    return text


def run_readonly_query(path: str | Path, sql: str, *, max_rows: int = 1000) -> QueryResult:
    """Check ``sql`` and run it on a read-only, sandboxed connection to the DuckDB file at ``path``."""
    text = check_select(sql)
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"Knowledge graph {p} does not exist; run 'indagent kg init' (or 'kg demo') first.")
    config = {"enable_external_access": "false", "autoload_known_extensions": "false",
              "autoinstall_known_extensions": "false", "lock_configuration": "true"}
    try:
        con = duckdb.connect(str(p), read_only=True, config=config)
    except duckdb.IOException as exc:
        raise ConfigError(f"Cannot open {p} read-only: {exc}. Is another process writing it?") from exc
    try:
        cur = con.execute(text)
        cols = [d[0] for d in cur.description] if cur.description else []
        rows = cur.fetchmany(max_rows + 1)
    except duckdb.Error as exc:
        raise QueryRefused(f"Query failed: {' '.join(str(exc).split())}") from None
    finally:
        con.close()
    truncated = len(rows) > max_rows
    rows = rows[:max_rows]
    return QueryResult(columns=cols, rows=[list(r) for r in rows], row_count=len(rows), truncated=truncated)
