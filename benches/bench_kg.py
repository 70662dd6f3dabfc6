"""Knowledge-graph benchmarks: 3-hop neighbourhood on a 1M-edge graph (DuckDB vs networkx) and wide-CSV import.

The neighbourhood is timed on the clustered ``adjacency`` table (the default path) and, on fewer queries,
on the recursive CTE over ``edges`` (the fallback); networkx includes loading the graph.

Prints one JSON object (last line). ``--full`` uses more queries and a larger CSV.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from knowledge.graph import neighborhood_ids
from knowledge.graph.traverse import refresh_adjacency
from knowledge.importers import import_file
from knowledge.store import KnowledgeStore


def synthetic_graph(kg: KnowledgeStore, n_nodes: int, n_edges: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    src = rng.integers(0, n_nodes, n_edges)
    dst = rng.integers(0, n_nodes, n_edges)
    df = pd.DataFrame({"src": src, "dst": dst})
    kg.con.register("_e", df)
    with kg.transaction() as con:
        con.execute(f"INSERT INTO nodes SELECT 'n' || i, 'asset', NULL, NULL FROM range({n_nodes}) t(i)")
        con.execute("INSERT INTO edges SELECT DISTINCT 'n' || src, 'n' || dst, 'feeds', NULL FROM _e WHERE src <> dst")
        refresh_adjacency(con)
    kg.con.unregister("_e")


def bench_neighbourhood(n_edges: int, queries: int, seed: int, cte_queries: int = 5) -> dict[str, float]:
    n_nodes = n_edges // 5
    with tempfile.TemporaryDirectory() as tmp, KnowledgeStore(Path(tmp) / "g.duckdb") as kg:
        t0 = time.perf_counter()
        synthetic_graph(kg, n_nodes, n_edges, seed)
        build_s = time.perf_counter() - t0
        edges = int(kg.scalar("SELECT count(*) FROM edges"))
        starts = [f"n{i}" for i in np.random.default_rng(seed + 1).integers(0, n_nodes, queries)]
        neighborhood_ids(kg, starts[0], depth=3)  # warm-up
        duck, sizes, agree_cte = [], [], 0
        for s in starts:
            t = time.perf_counter()
            ids = neighborhood_ids(kg, s, depth=3)
            duck.append(time.perf_counter() - t)
            sizes.append(len(ids))
        cte = []
        for s, n in zip(starts[:cte_queries], sizes, strict=False):
            t = time.perf_counter()
            ids = neighborhood_ids(kg, s, depth=3, use_adjacency=False)
            cte.append(time.perf_counter() - t)
            agree_cte += int(len(ids) == n)
        t = time.perf_counter()
        pairs = kg.con.execute("SELECT src, dst FROM edges").fetchall()
        g = nx.Graph()
        g.add_edges_from(pairs)
        load_s = time.perf_counter() - t
        nxq, agree = [], 0
        for s, n in zip(starts, sizes, strict=True):
            t = time.perf_counter()
            res = nx.single_source_shortest_path_length(g, s, cutoff=3)
            nxq.append(time.perf_counter() - t)
            agree += int(len(res) == n)
    duck_p50 = statistics.median(duck) * 1000
    nx_p50 = statistics.median(nxq) * 1000
    return {
        "edges": edges, "nodes": n_nodes, "queries": queries, "build_s": round(build_s, 2),
        "hop3_nodes_p50": int(statistics.median(sizes)), "results_agree": agree == queries and agree_cte == len(cte),
        "duckdb_hop3_p50_ms": round(duck_p50, 2), "duckdb_hop3_p90_ms": round(float(np.percentile(duck, 90)) * 1000, 2),
        "duckdb_cte_hop3_p50_ms": round(statistics.median(cte) * 1000, 2),
        "ratio_cte_vs_adjacency": round(statistics.median(cte) * 1000 / duck_p50, 1),
        "target_p50_50ms_met": duck_p50 <= 50,
        "networkx_load_s": round(load_s, 2), "networkx_hop3_p50_ms": round(nx_p50, 3),
        "ratio_networkx_load_plus_query_vs_duckdb": round((load_s * 1000 + nx_p50) / duck_p50, 1),
        "ratio_networkx_query_only_vs_duckdb": round(nx_p50 / duck_p50, 4),
        "queries_before_networkx_pays_off": int(load_s * 1000 / max(duck_p50 - nx_p50, 1e-9)),
    }


def bench_import(rows: int, sensors: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "wide.csv"
        ts = pd.date_range("2024-01-01", periods=rows, freq="min").strftime("%Y-%m-%d %H:%M:%S")
        df = pd.DataFrame(rng.normal(50, 5, (rows, sensors)).round(3), columns=[f"s{i:03d}" for i in range(sensors)])
        df.insert(0, "timestamp", ts)
        df.to_csv(path, index=False)
        with KnowledgeStore(Path(tmp) / "a.duckdb") as kg:
            t = time.perf_counter()
            rep = import_file(kg, path, kind="readings", asset="A-1")
            ours = time.perf_counter() - t
        with KnowledgeStore(Path(tmp) / "b.duckdb") as kg:  # baseline: pandas parse + melt + DuckDB insert
            t = time.perf_counter()
            raw = pd.read_csv(path)
            raw["timestamp"] = pd.to_datetime(raw["timestamp"])
            long = raw.melt(id_vars="timestamp", var_name="sensor_id", value_name="value").dropna()
            long["sensor_id"] = "A-1." + long["sensor_id"]
            kg.con.register("_l", long)
            with kg.transaction() as con:
                con.execute("INSERT INTO readings SELECT sensor_id, timestamp, value FROM _l")
            base = time.perf_counter() - t
    n = rep.facts_inserted
    return {"import_readings": n, "import_s": round(ours, 3), "import_rows_per_s": int(n / ours),
            "pandas_baseline_rows_per_s": int(n / base), "ratio_import_vs_pandas": round(base / ours, 2),
            "import_target_met": n / ours >= 500_000}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--full", action="store_true", help="more queries and a larger CSV")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    out = {"bench": "kg"}
    out |= bench_neighbourhood(1_000_000, 200 if args.full else 30, args.seed)
    out |= bench_import(200_000 if args.full else 50_000, 20, args.seed)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
