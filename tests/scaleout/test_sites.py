"""Site export (Parquet + manifest) and import into a central DuckDB: lossless, atomic, per-site replace."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from knowledge.demo import build_demo
from knowledge.sites import central_summary, export_site, import_site, read_manifest
from knowledge.store import KnowledgeStore
from server.cli_sites import app
from tools.errors import ConfigError

TABLES = ("nodes", "edges", "readings", "work_orders", "production_orders", "order_operations", "fault_truth")


@pytest.fixture(scope="module")
def plants(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two tiny demo plants (different seeds, same site id 'SITE-1') and their exports."""
    root = tmp_path_factory.mktemp("plants")
    out: dict[str, Path] = {}
    for seed in (0, 1):
        kg = root / f"plant{seed}.duckdb"
        with KnowledgeStore(kg) as store:
            build_demo(store, seed=seed, scale="tiny")
            export_site(store, root / f"export{seed}")
        out[f"kg{seed}"], out[f"export{seed}"] = kg, root / f"export{seed}"
    return out


def _copy(src: Path, tmp_path: Path, name: str) -> Path:
    dst = tmp_path / name
    shutil.copytree(src, dst)
    return dst


def test_export_writes_every_table_with_counts_schema_and_checksums(plants: dict[str, Path]) -> None:
    manifest = read_manifest(plants["export0"])
    assert manifest.site == "SITE-1" and manifest.site_name == "Demo plant" and "m001_initial" in manifest.migrations
    by_name = {t.name: t for t in manifest.tables}
    assert set(TABLES) <= set(by_name) and "_migrations" not in by_name
    with KnowledgeStore(plants["kg0"], read_only=True) as store:
        for name in TABLES:
            assert by_name[name].rows == store.scalar(f"SELECT count(*) FROM {name}") > 0
    assert by_name["nodes"].primary_key == ["id"] and by_name["edges"].primary_key == ["src", "dst", "rel"]
    assert by_name["readings"].primary_key == []
    types = {c.name: c.type for c in by_name["fault_truth"].columns}
    assert types["sensor_ids"] == "VARCHAR[]" and types["onset_ts"] == "TIMESTAMP"
    with pytest.raises(ConfigError, match="already holds a site export"), \
            KnowledgeStore(plants["kg0"], read_only=True) as store:
        export_site(store, plants["export0"])


def test_two_sites_import_losslessly_side_by_side(plants: dict[str, Path], tmp_path: Path) -> None:
    central = tmp_path / "central.duckdb"
    first = import_site(central, plants["export0"])
    second = import_site(central, plants["export1"], site="PLANT-B")
    assert (first.site, second.site, second.source_site) == ("SITE-1", "PLANT-B", "SITE-1")
    assert not first.replaced and not second.replaced
    con = duckdb.connect(str(central), read_only=True)
    try:
        for site, key in (("SITE-1", "kg0"), ("PLANT-B", "kg1")):
            con.execute(f"ATTACH '{plants[key]}' AS src (READ_ONLY)")
            for table in TABLES:
                only_central = con.execute(f"SELECT * EXCLUDE (site) FROM {table} WHERE site = ? "
                                           f"EXCEPT ALL SELECT * FROM src.{table}", [site]).fetchall()
                only_site = con.execute(f"SELECT * FROM src.{table} EXCEPT ALL "
                                        f"SELECT * EXCLUDE (site) FROM {table} WHERE site = ?", [site]).fetchall()
                assert only_central == [] and only_site == [], (site, table)
            con.execute("DETACH src")
        # same ids in both sites, told apart by the site column; JSON props survive
        assert con.execute("SELECT count(DISTINCT site) FROM nodes WHERE id = 'SITE-1'").fetchone() == (2,)
        assert con.execute("SELECT json_extract_string(props, '$.asset_id') FROM nodes "
                           "WHERE site = 'PLANT-B' AND kind = 'sensor' LIMIT 1").fetchone()[0]  # type: ignore[index]
    finally:
        con.close()
    summary = central_summary(central)
    assert [s.site for s in summary.sites] == ["PLANT-B", "SITE-1"]
    assert summary.totals["nodes"] == sum(s.rows["nodes"] for s in summary.sites)


def test_reimport_replaces_only_that_site(plants: dict[str, Path], tmp_path: Path) -> None:
    central = tmp_path / "central.duckdb"
    import_site(central, plants["export0"], site="A")
    import_site(central, plants["export1"], site="B")
    before = central_summary(central)
    again = import_site(central, plants["export1"], site="B")
    after = central_summary(central)
    assert again.replaced and [s.rows for s in after.sites] == [s.rows for s in before.sites]


def test_damaged_or_inconsistent_export_is_refused_and_central_unchanged(plants: dict[str, Path],
                                                                           tmp_path: Path) -> None:
    central = tmp_path / "central.duckdb"
    import_site(central, plants["export0"], site="A")
    before = central_summary(central).model_dump(exclude={"sites": {"__all__": {"imported_at"}}})

    damaged = _copy(plants["export1"], tmp_path, "damaged")
    with (damaged / "edges.parquet").open("r+b") as f:
        f.seek(100)
        f.write(b"\x00\x01\x02\x03")
    with pytest.raises(ConfigError, match="does not match its checksum"):
        import_site(central, damaged, site="A")

    lying = _copy(plants["export1"], tmp_path, "lying")  # valid files, a wrong row count: fails mid-import
    m = json.loads((lying / "manifest.json").read_text())
    next(t for t in m["tables"] if t["name"] == "work_orders")["rows"] += 1
    (lying / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ConfigError, match="rows loaded, the manifest says"):
        import_site(central, lying, site="A")
    assert central_summary(central).model_dump(exclude={"sites": {"__all__": {"imported_at"}}}) == before

    evil = _copy(plants["export1"], tmp_path, "evil")
    m = json.loads((evil / "manifest.json").read_text())
    m["tables"][0]["name"] = "nodes; DROP TABLE nodes"
    (evil / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ConfigError, match="Invalid table name"):
        import_site(central, evil)


def test_new_column_in_one_site_is_added_and_null_elsewhere(plants: dict[str, Path], tmp_path: Path) -> None:
    kg = tmp_path / "newer.duckdb"
    shutil.copy(plants["kg1"], kg)
    with KnowledgeStore(kg) as store:
        store.con.execute("ALTER TABLE nodes ADD COLUMN criticality INTEGER DEFAULT 3")
        export_site(store, tmp_path / "newer")
    central = tmp_path / "central.duckdb"
    import_site(central, plants["export0"], site="old")
    res = import_site(central, tmp_path / "newer", site="new")
    assert res.added_columns == ["nodes.criticality"]
    con = duckdb.connect(str(central), read_only=True)
    try:
        rows = dict(con.execute("SELECT site, count(criticality) FROM nodes GROUP BY site").fetchall())
    finally:
        con.close()
    assert rows == {"old": 0, "new": res.rows["nodes"]}


def test_a_site_knowledge_graph_is_not_a_central_file(plants: dict[str, Path], tmp_path: Path) -> None:
    kg = tmp_path / "site.duckdb"
    shutil.copy(plants["kg0"], kg)
    with pytest.raises(ConfigError, match="is a site knowledge graph, not a central file"):
        import_site(kg, plants["export1"])
    with pytest.raises(ConfigError, match="Invalid site name"):
        import_site(tmp_path / "c.duckdb", plants["export1"], site="bad name!")


def test_cli_export_import_list(plants: dict[str, Path], tmp_path: Path, data_dir: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["export-site", str(tmp_path / "exp"), "--db", str(plants["kg0"]), "--json"])
    assert res.exit_code == 0, res.output
    exported = json.loads(res.stdout)
    assert exported["site"] == "SITE-1" and {t["name"] for t in exported["tables"]} >= set(TABLES)
    res = runner.invoke(app, ["import-site", str(tmp_path / "exp"), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["central"] == str(data_dir / "central.duckdb")
    res = runner.invoke(app, ["import-site", str(plants["export1"]), "--site", "PLANT-B"])
    assert res.exit_code == 0 and "site PLANT-B imported" in res.stdout
    res = runner.invoke(app, ["list-sites", "--json"])
    assert [s["site"] for s in json.loads(res.stdout)["sites"]] == ["PLANT-B", "SITE-1"]
    res = runner.invoke(app, ["import-site", str(tmp_path / "nowhere")])
    assert res.exit_code == 2 and "No manifest.json" in res.stderr
    res = runner.invoke(app, ["export-site", str(tmp_path / "x")])  # no KG under the data dir
    assert res.exit_code == 2 and "indagent kg demo" in res.stderr
