from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.sqlguard import QueryRefused, check_select, run_readonly_query
from knowledge.store import KnowledgeStore
from tests.knowledge.kg_fixtures import build_tiny


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny(tmp_path_factory.mktemp("sql") / "kg.duckdb")


def test_select_and_with_run(db: Path) -> None:
    r = run_readonly_query(db, "SELECT kind, count(*) AS n FROM nodes GROUP BY kind ORDER BY kind")
    assert r.columns == ["kind", "n"] and ["asset", 9] in r.rows
    r = run_readonly_query(db, "WITH a AS (SELECT id FROM nodes WHERE kind = 'asset') SELECT count(*) FROM a;")
    assert r.rows == [[9]]
    r = run_readonly_query(db, "SELECT * FROM readings", max_rows=5)
    assert r.row_count == 5 and r.truncated


@pytest.mark.parametrize(("sql", "message"), [
    ("DROP TABLE nodes", "DROP statements are not allowed"),
    ("CREATE TABLE x (a INT)", "CREATE statements"),
    ("DELETE FROM nodes", "DELETE statements"),
    ("UPDATE nodes SET kind = 'x'", "UPDATE statements"),
    ("INSERT INTO nodes VALUES ('a', 'b', 'c', NULL)", "INSERT statements"),
    ("SELECT 1; DROP TABLE nodes", "Exactly one statement"),
    ("ATTACH 'other.duckdb' AS o", "ATTACH statements"),
    ("COPY nodes TO 'out.csv'", "COPY statements"),
    ("INSTALL httpfs", "INSTALL/LOAD statements"),
    ("LOAD httpfs", "INSTALL/LOAD statements"),
    ("PRAGMA database_list", "PRAGMA statements"),
    ("SET threads = 1", "SET statements"),
    ("EXPORT DATABASE 'dump'", "EXPORT statements"),
    ("SELECT * FROM read_csv('/etc/passwd')", r"read_csv\(\) reads files"),
    ("SELECT * FROM (SELECT * FROM read_parquet('x.parquet'))", r"read_parquet\(\)"),
    ("SELECT * FROM glob('*')", r"glob\(\)"),
    ("SELECT * FROM '/etc/passwd'", "only reads the knowledge-graph tables"),
    ("SELECT getenv('HOME')", r"getenv\(\)"),
    ("SELEC 1", "syntax error"),
    ("   ", "Empty query"),
])
def test_refusals(db: Path, sql: str, message: str) -> None:
    with pytest.raises(QueryRefused, match=message):
        run_readonly_query(db, sql)
    with KnowledgeStore(db, read_only=True) as kg:
        assert kg.scalar("SELECT count(*) FROM nodes WHERE kind = 'asset'") == 9


def test_check_select_returns_clean_sql() -> None:
    assert check_select(" SELECT 1 ; ") == "SELECT 1"
