"""Staging: read a CSV with DuckDB (all text), match its columns to our fields, parse types, find rejects."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from knowledge.importers.mapping import FIELDS, FieldSpec, ImportFileError, Mapping, norm_col

__all__ = ["TS_FORMATS", "Staged", "num_expr", "read_csv", "resolve_columns", "sql_str", "ts_expr", "typed_table"]

TS_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%m/%d/%Y %H:%M:%S",
              "%m/%d/%Y %H:%M", "%m/%d/%Y", "%Y-%m-%d", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%d.%m.%Y %H:%M:%S",
              "%d.%m.%Y %H:%M", "%d.%m.%Y")
RAW = "_imp_raw"
TYPED = "_imp_typed"
LINES = "_imp_lines"


def sql_str(s: str) -> str:
    """A SQL string literal."""
    return "'" + s.replace("'", "''") + "'"


def qcol(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def ts_expr(raw: str, formats: list[str]) -> str:
    """SQL parsing a text expression into a naive UTC TIMESTAMP (NULL when unparseable)."""
    x = f"NULLIF(trim({raw}), '')"
    fmts = "[" + ", ".join(sql_str(f) for f in [*formats, *TS_FORMATS]) + "]"
    tz = f"CAST(TRY_CAST({x} AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS TIMESTAMP)"
    return (f"CASE WHEN regexp_matches({x}, '(Z|[+-][0-9][0-9]:?[0-9][0-9])$') THEN {tz} "
            f"ELSE coalesce(try_strptime({x}, {fmts}), TRY_CAST({x} AS TIMESTAMP)) END")


def num_expr(raw: str, decimal: str, typ: str = "DOUBLE") -> str:
    """SQL casting a text expression to a number (stray whitespace allowed; NULL when not a number)."""
    x = f"trim({raw})"
    if decimal != ".":
        x = f"replace(replace({x}, '.', ''), {sql_str(decimal)}, '.')"
    return f"TRY_CAST(NULLIF({x}, '') AS {typ})"


@dataclass
class Staged:
    """The raw staged table: its columns, row count and the CSV-level rejects (bad lines)."""

    columns: list[str]
    rows: int
    rejects: list[tuple[int, str]] = field(default_factory=list)


def read_csv(con: duckdb.DuckDBPyConnection, path: Path, mapping: Mapping) -> Staged:
    """Read ``path`` into the temp table ``_imp_raw`` (all text) plus ``_imp_lines`` (rowid -> file line)."""
    if not path.is_file():
        raise ImportFileError(f"file {path} not found")
    if path.stat().st_size == 0:
        raise ImportFileError(f"file {path} is empty")
    opts = ["header = true", "all_varchar = true", "store_rejects = true",
            "rejects_table = '_imp_rej_err'", "rejects_scan = '_imp_rej_scan'"]
    if mapping.delimiter:
        opts.append(f"delim = {sql_str(mapping.delimiter)}")
    try:
        for t in (RAW, LINES, "_imp_rej_err", "_imp_rej_scan"):
            con.execute(f"DROP TABLE IF EXISTS {t}")
        con.execute(f"CREATE TEMP TABLE {RAW} AS SELECT * FROM read_csv({sql_str(str(path))}, {', '.join(opts)})")
        bad = con.execute("SELECT line, error_message FROM _imp_rej_err ORDER BY line").fetchall()
    except duckdb.Error as exc:
        msg = " ".join(str(exc).split())
        raise ImportFileError(f"cannot read {path.name} as CSV: {msg[:300]}") from None
    cols = [d[0] for d in con.execute(f"SELECT * FROM {RAW} LIMIT 0").description]
    n = int(con.execute(f"SELECT count(*) FROM {RAW}").fetchall()[0][0])  # type: ignore[index]
    rejects = [(int(line), f"unreadable CSV line: {' '.join(str(m).split())[:200]}") for line, m in bad]
    if n == 0 and not rejects:
        raise ImportFileError(f"file {path.name} has a header but no data rows")
    if len(rejects) > max(n, 0) or (n == 0 and rejects):
        raise ImportFileError(f"{path.name} does not look like a CSV file: {len(rejects)} of {n + len(rejects)} "
                              f"lines are unreadable (first: {rejects[0][1]})")
    rej_lines = np.array(sorted({r[0] for r in rejects}), dtype=np.int64)
    all_lines = np.arange(2, n + len(rej_lines) + 2, dtype=np.int64)
    lines = np.setdiff1d(all_lines, rej_lines)[:n] if len(rej_lines) else all_lines[:n]
    con.register("_imp_lines_df", pd.DataFrame({"_rid": np.arange(n, dtype=np.int64), "_line_no": lines}))
    con.execute(f"CREATE TEMP TABLE {LINES} AS SELECT * FROM _imp_lines_df")
    con.unregister("_imp_lines_df")
    return Staged(columns=cols, rows=n, rejects=rejects)


def _delimiter_hint(columns: list[str]) -> str:
    if len(columns) == 1:
        for d in (";", "\t", "|", ","):
            if d in columns[0]:
                return f" — the header looks {d!r}-delimited: set 'delimiter: {d!r}' in the mapping"
    return ""


def resolve_columns(kind: str, columns: list[str], mapping: Mapping, *, optional_required: set[str] | None = None
                    ) -> dict[str, str]:
    """Our field -> source column, from the mapping first, then common names (case-insensitive)."""
    specs = FIELDS[kind]
    by_norm: dict[str, str] = {}
    for c in columns:
        by_norm.setdefault(norm_col(c), c)
    out: dict[str, str] = {}
    lower = {c.lower(): c for c in columns}
    for src, fld in mapping.columns.items():
        col = src if src in columns else lower.get(src.lower()) or by_norm.get(norm_col(src))
        if col is None:
            raise ImportFileError(f"mapping names column {src!r} for {fld!r}, but the file has columns: "
                                  f"{', '.join(map(repr, columns[:20]))}{_delimiter_hint(columns)}")
        out[fld] = col
    used = set(out.values())
    for fld, spec in specs.items():
        if fld in out or fld in mapping.constants:
            continue
        for name in (fld, *spec.names):
            col = by_norm.get(name)
            if col is not None and col not in used:
                out[fld] = col
                used.add(col)
                break
    skip = optional_required or set()
    missing = [f for f, s in specs.items() if s.required and f not in out and f not in mapping.constants
               and f not in skip]
    if missing:
        names = "; ".join(f"{m}: one of {', '.join(specs[m].names[:6])}" for m in missing)
        raise ImportFileError(f"missing required column(s) for {kind}: {names}. Found columns: "
                              f"{', '.join(map(repr, columns[:20]))}{_delimiter_hint(columns)}. "
                              f"Rename them or map them with --mapping")
    return out


def _field_sql(fld: str, spec: FieldSpec, col: str | None, const: Any, mapping: Mapping) -> tuple[str, list[str]]:
    """(typed SQL expression, reject-reason SQL expressions) of one field."""
    if col is None:
        if const is None:
            return "NULL", []
        raw = sql_str(str(const))
    else:
        raw = qcol(col)
    text = f"NULLIF(trim({raw}), '')"
    reasons: list[str] = []
    if spec.required:
        reasons.append(f"CASE WHEN {text} IS NULL THEN 'missing {fld}' END")
    if spec.type == "ts":
        expr = ts_expr(raw, mapping.formats)
        reasons.append(f"CASE WHEN {text} IS NOT NULL AND ({expr}) IS NULL THEN "
                       f"'unparseable {fld} ' || ('''' || {text} || '''') END")
    elif spec.type in ("num", "int"):
        expr = num_expr(raw, mapping.decimal, "DOUBLE" if spec.type == "num" else "BIGINT")
        reasons.append(f"CASE WHEN {text} IS NOT NULL AND ({expr}) IS NULL THEN "
                       f"'{fld} ' || ('''' || {text} || '''') || ' is not a number' END")
    elif spec.type == "list":
        parts = f"string_split_regex(coalesce({text}, ''), '[;|]')"
        expr = f"list_filter(list_transform({parts}, lambda x: trim(x)), lambda x: x <> '')"
    else:
        expr = text
    return expr, reasons


def typed_table(con: duckdb.DuckDBPyConnection, kind: str, cols: dict[str, str], mapping: Mapping) -> None:
    """Create ``_imp_typed``: line, one typed column per field, and ``_reason`` (NULL for valid rows)."""
    exprs, reasons = [], []
    for fld, spec in FIELDS[kind].items():
        e, r = _field_sql(fld, spec, cols.get(fld), mapping.constants.get(fld), mapping)
        exprs.append(f"{e} AS {qcol(fld)}")
        reasons += r
    reason = f"NULLIF(concat_ws('; ', {', '.join(reasons)}), '')" if reasons else "NULL"
    con.execute(f"DROP TABLE IF EXISTS {TYPED}")
    con.execute(f"CREATE TEMP TABLE {TYPED} AS SELECT l._line_no AS _line, {', '.join(exprs)}, {reason} AS _reason "
                f"FROM (SELECT rowid - (SELECT min(rowid) FROM {RAW}) AS _rid, * FROM {RAW}) r "
                f"JOIN {LINES} l ON l._rid = r._rid ORDER BY l._line_no")
