from __future__ import annotations

from datetime import datetime

import pytest

from knowledge import graph as g
from knowledge.store import KnowledgeStore
from tests.knowledge.kg_fixtures import build_tiny
from tools.errors import ToolRetry


@pytest.fixture(scope="module")
def kg(tmp_path_factory: pytest.TempPathFactory):
    path = build_tiny(tmp_path_factory.mktemp("graph") / "kg.duckdb")
    with KnowledgeStore(path, read_only=True) as store:
        yield store


@pytest.mark.parametrize(("text", "expected", "via"), [
    ("CNC-02", "CNC-02", "id"), ("cnc 2", "CNC-02", "normalized"), ("CNC-2", "CNC-02", "normalized"),
    ("C-1", "CMP-01", "alias"), ("Chiller 1", "CHL-01", "name"), ("Compressor 1", "CMP-01", "alias"),
    ("Machining line", "L1", "name"),
    ("spindle bering wear", "fm:cnc.spindle_bearing_wear", "fuzzy"),
])
def test_find_entities(kg: KnowledgeStore, text: str, expected: str, via: str) -> None:
    best = g.find_entities(kg, text)[0]
    assert (best.id, best.via) == (expected, via)
    assert all(m.kind == "sensor" for m in g.find_entities(kg, text, kinds=["sensor"]))


def test_link_entities_prefers_longest_mention(kg: KnowledgeStore) -> None:
    found = g.link_entities(kg, "Why is CNC 2 vibration high, and is C-1 or pump 4 involved on L1?")
    assert [(m.id, m.text) for m in found] == [
        ("CNC-02.vibration", "CNC 2 vibration"), ("CMP-01", "C-1"), ("P-4", "pump 4"), ("L1", "L1")]


def test_require_node_resolves_aliases_and_suggests(kg: KnowledgeStore) -> None:
    assert g.require_node(kg, "cnc3", kinds=["asset"]).id == "CNC-03"
    with pytest.raises(ToolRetry, match=r"Unknown asset 'CNC-33'; did you mean 'CNC-03'"):
        g.require_node(kg, "CNC-33", kinds=["asset"])


def test_neighborhood_depths_and_edges(kg: KnowledgeStore) -> None:
    n1 = g.neighborhood(kg, "CHL-01", depth=1)
    ids = {n.id: n.depth for n in n1.nodes}
    assert ids["CHL-01"] == 0 and ids["P-1"] == 1 and ids["CHL-01.flow"] == 1 and "CNC-01" not in ids
    assert all(e.src in ids and e.dst in ids for e in n1.edges)
    n2 = g.neighborhood(kg, "CHL-01", depth=2, rels=["feeds"], direction="out")
    assert {n.id: n.depth for n in n2.nodes} == {"CHL-01": 0, "P-4": 1, "CNC-01": 2, "CNC-02": 2, "CNC-03": 2}
    assert g.neighborhood(kg, "CHL-01", depth=2, limit=3).truncated


def test_shortest_path_directed_and_undirected(kg: KnowledgeStore) -> None:
    p = g.shortest_path(kg, "P-1", "RBT-01", directed=True, rels=["feeds"])
    assert p.nodes == ["P-1", "CHL-01", "P-4", "CNC-01", "RBT-01"] and p.length == 4
    assert g.shortest_path(kg, "P-1", "RBT-01").length == 2  # via the line
    assert not g.shortest_path(kg, "RBT-01", "P-1", directed=True, rels=["feeds"]).found


def test_impact_downstream_upstream_and_lines(kg: KnowledgeStore) -> None:
    down = {i.id: (i.depth, i.via) for i in g.impact(kg, "P-1")}
    assert down == {"CHL-01": (1, "P-1"), "P-4": (2, "CHL-01"), "CNC-01": (3, "P-4"), "CNC-02": (3, "P-4"),
                    "CNC-03": (3, "P-4"), "RBT-01": (4, "CNC-01")}
    up = {i.id for i in g.impact(kg, "RBT-01", direction="upstream")}
    assert {"CNC-01", "CMP-01", "P-1", "CNV-01"} <= up
    assert g.impact(kg, "L1") == []  # everything is in L1: nothing outside it is fed


def test_centrality_downstream_counts(kg: KnowledgeStore) -> None:
    ranking = dict(g.centrality(kg, metric="downstream", top=20))
    assert ranking["P-1"] == 6 and ranking["RBT-01"] == 0


def test_sensor_stats_and_series(kg: KnowledgeStore) -> None:
    start, end = datetime(2024, 1, 2), datetime(2024, 1, 3)
    (s,) = g.sensor_stats(kg, ["CNC-01.temperature"], start=start, end=end)
    raw = kg.query("SELECT count(*) n, avg(value) m, max(value) x FROM readings WHERE sensor_id = 'CNC-01.temperature'"
                   " AND ts >= ? AND ts < ?", [start, end])[0]
    assert s.count == raw["n"] == 24 and s.mean == pytest.approx(raw["m"]) and s.max == pytest.approx(raw["x"])
    assert s.unit == "degC" and s.last_ts == datetime(2024, 1, 2, 23)
    series = g.sensor_series(kg, "CNC-01.temperature", start=start, end=datetime(2024, 1, 5), bucket="1 day", agg="max")
    assert [p.ts.day for p in series] == [2, 3, 4] and series[0].value == pytest.approx(s.max)
    buckets = g.bucket_stats(kg, ["CNC-01.temperature", "CNC-02.temperature"], start=start, end=end, bucket="6 hours")
    assert len(buckets) == 8 and sum(b.count for b in buckets) == 48
    with pytest.raises(ToolRetry, match="Invalid bucket"):
        g.sensor_series(kg, "CNC-01.temperature", bucket="1 fortnight")
    assert g.data_range(kg) == (datetime(2024, 1, 1), datetime(2024, 2, 29, 23))


def test_work_order_filters_and_reliability(kg: KnowledgeStore) -> None:
    total, items = g.query_work_orders(kg, g.WorkOrderFilter(asset_ids=["CHL-01"], start=datetime(2023, 1, 1),
                                                             end=datetime(2024, 1, 1), types=["inspection"]))
    assert total == kg.scalar("SELECT count(*) FROM work_orders WHERE asset_id = 'CHL-01' AND type = 'inspection' "
                              "AND year(reported_at) = 2023") >= 12
    assert all(w.type == "inspection" and w.reported_at.year == 2023 for w in items)
    counts = g.count_work_orders(kg, g.WorkOrderFilter(asset_ids=["CHL-01"]), group_by="year")
    assert set(counts) == {"2022", "2023", "2024"}
    total_text, _ = g.query_work_orders(kg, g.WorkOrderFilter(text="BEARING"))
    assert total_text == kg.scalar("SELECT count(*) FROM work_orders WHERE description ILIKE '%bearing%' OR "
                                   "component ILIKE '%bearing%'")
    code, _ = g.query_work_orders(kg, g.WorkOrderFilter(failure_code="brg-wear"))
    assert code == kg.scalar("SELECT count(*) FROM work_orders WHERE failure_code = 'BRG-WEAR'")
    rel = g.reliability(kg, "CMP-01", datetime(2022, 1, 1), datetime(2025, 1, 1))
    n = kg.scalar("SELECT count(*) FROM work_orders WHERE asset_id = 'CMP-01' AND type = 'corrective'")
    assert rel.failures == n and rel.mtbf_h == pytest.approx(26304 / n, abs=0.01)


def test_adjacency_walk_equals_edges_cte_incl_after_incremental_insert(tmp_path) -> None:
    from knowledge.graph.traverse import adjacency_fresh, refresh_adjacency

    path = build_tiny(tmp_path / "adj.duckdb")
    with KnowledgeStore(path) as store:
        def both_paths_agree() -> None:
            for node in ("CHL-01", "P-1", "L1", "CNC-02.vibration", "class:cnc", "no-such-node"):
                for direction in ("both", "out", "in"):
                    for rels in (None, ["feeds"], ["part_of", "has_sensor"]):
                        for depth in (1, 2, 3):
                            fast = g.neighborhood_ids(store, node, depth=depth, direction=direction, rels=rels)
                            slow = g.neighborhood_ids(store, node, depth=depth, direction=direction, rels=rels,
                                                      use_adjacency=False)
                            assert fast == slow, (node, direction, rels, depth)

        assert adjacency_fresh(store.cursor())  # the demo builder refreshed it
        both_paths_agree()
        with store.transaction() as con:  # an incremental write that does not refresh: fallback to the CTE
            con.execute("INSERT INTO edges VALUES ('RBT-01', 'NEW-1', 'feeds', NULL), ('NEW-1', 'CHL-01', 'feeds', NULL)")
        assert not adjacency_fresh(store.cursor())
        assert g.neighborhood_ids(store, "RBT-01", depth=1, direction="out", rels=["feeds"]) == {"RBT-01": 0, "NEW-1": 1}
        with store.transaction() as con:
            refresh_adjacency(con)
        assert adjacency_fresh(store.cursor())
        assert g.neighborhood_ids(store, "NEW-1", depth=2, rels=["feeds"], direction="out")["P-4"] == 2
        both_paths_agree()
