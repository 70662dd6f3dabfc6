"""Graph walks in DuckDB: k-hop neighbourhood, shortest path, upstream/downstream impact, centrality."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import duckdb
import networkx as nx

from knowledge.graph.models import Direction, Edge, ImpactItem, Neighborhood, NeighborNode, PathResult

if TYPE_CHECKING:
    from knowledge.store import KnowledgeStore

__all__ = [
    "adjacency_fresh", "centrality", "impact", "neighborhood", "neighborhood_ids", "refresh_adjacency",
    "shortest_path", "to_networkx",
]

_BUILD_ADJACENCY = """
CREATE OR REPLACE TABLE adjacency AS
WITH ids AS (
    SELECT id, (row_number() OVER (ORDER BY id) - 1)::INTEGER AS idx
    FROM (SELECT src AS id FROM edges UNION SELECT dst FROM edges)
),
relc AS (SELECT rel, (row_number() OVER (ORDER BY rel) - 1)::INTEGER AS code FROM (SELECT DISTINCT rel FROM edges)),
half AS (SELECT src AS a, dst AS b, rel, 1 AS out FROM edges UNION ALL SELECT dst, src, rel, 0 FROM edges)
SELECT i.idx, i.id, list(j.idx ORDER BY j.idx, r.code, h.out) AS nbrs,
       list(r.code * 2 + h.out ORDER BY j.idx, r.code, h.out) AS codes
FROM half h JOIN ids i ON i.id = h.a JOIN ids j ON j.id = h.b JOIN relc r ON r.rel = h.rel
GROUP BY i.idx, i.id ORDER BY i.idx
"""


def _edge_view(direction: Direction, rels: Sequence[str] | None) -> tuple[str, list[Any]]:
    """SQL for a relation (a, b, rel) of walkable steps a -> b, and its parameters."""
    cond = "WHERE rel IN (SELECT unnest(?::VARCHAR[]))" if rels else ""
    p: list[Any] = [list(rels)] if rels else []
    out = f"SELECT src AS a, dst AS b, rel FROM edges {cond}"
    inn = f"SELECT dst AS a, src AS b, rel FROM edges {cond}"
    if direction == "out":
        return out, p
    if direction == "in":
        return inn, p
    return f"{out} UNION ALL {inn}", p * 2


def _edge(row: dict[str, Any] | tuple[Any, ...]) -> Edge:
    src, dst, rel, props = row if isinstance(row, tuple) else (row["src"], row["dst"], row["rel"], row["props"])
    return Edge(src=src, dst=dst, rel=rel, props=json.loads(props) if isinstance(props, str) else props)


def refresh_adjacency(con: duckdb.DuckDBPyConnection) -> int:
    """Rebuild the clustered ``adjacency`` table from ``edges`` (inside the caller's transaction); returns rows.

    Call it at the end of a transaction that wrote edges (importers, demo). Until it runs again, a walk
    sees a different edge count than the one recorded and falls back to the recursive CTE over ``edges``.
    """
    con.execute(_BUILD_ADJACENCY)
    n_edges = con.execute("SELECT count(*) FROM edges").fetchall()[0][0]  # type: ignore[index]
    con.execute("CREATE OR REPLACE TABLE adjacency_state AS SELECT ?::BIGINT AS edges, false AS stale, "
                "now()::TIMESTAMP AS built_at, coalesce(list(DISTINCT rel ORDER BY rel), [])::TEXT[] AS rels FROM edges",
                [n_edges])
    return int(con.execute("SELECT count(*) FROM adjacency").fetchall()[0][0])  # type: ignore[index]


def adjacency_fresh(cur: duckdb.DuckDBPyConnection) -> bool:
    """Whether ``adjacency`` was built from the current ``edges`` (same count, not marked stale)."""
    try:
        row = cur.execute("SELECT (SELECT count(*) FROM edges) = s.edges AND NOT s.stale FROM adjacency_state s"
                          ).fetchone()
    except duckdb.CatalogException:  # a store migrated before m030
        return False
    return bool(row and row[0])


def _walk_sql(depth: int, codes: Sequence[int] | None) -> str:
    """One query for a ``depth``-hop walk over ``adjacency`` from the node named by ``$1``.

    Layer ``k`` is the distinct neighbours of layer ``k-1`` (a semi join on ``idx``, then ``unnest``);
    ``codes`` (None = every relation in both directions) keeps only the allowed (rel, direction) steps.
    The hop distance of a node is the first layer it appears in. All layers run in one DuckDB pipeline,
    so a 3-hop walk scans the integer lists three times instead of round-tripping id lists to Python.
    """
    layers = ["h0 AS (SELECT idx AS j FROM adjacency WHERE id = $1)"]
    for k in range(1, depth + 1):
        src = f"adjacency a SEMI JOIN h{k - 1} ON a.idx = h{k - 1}.j"
        if codes is None:
            layers.append(f"h{k} AS (SELECT DISTINCT unnest(a.nbrs) AS j FROM {src})")
        else:  # our own integers: literal, so DuckDB folds the filter
            allowed = ",".join(map(str, codes)) or "NULL"
            layers.append(f"h{k} AS (SELECT DISTINCT t.j FROM (SELECT unnest(a.nbrs) AS j, unnest(a.codes) AS c "
                          f"FROM {src}) t WHERE t.c IN ({allowed}))")
    hops = " UNION ALL ".join(f"SELECT j, {k} AS d FROM h{k}" for k in range(depth + 1))
    return (f"WITH {', '.join(layers)}, dist AS (SELECT j, min(d) AS d FROM ({hops}) GROUP BY j) "
            "SELECT a.id, dist.d FROM dist JOIN adjacency a ON a.idx = dist.j")


def _walk_adjacency(
    cur: duckdb.DuckDBPyConnection, node_id: str, depth: int, direction: Direction, rels: Sequence[str] | None,
) -> dict[str, int]:
    """Breadth-first walk over ``adjacency`` in one query (see :func:`_walk_sql`)."""
    names: list[str] = cur.execute("SELECT rels FROM adjacency_state").fetchall()[0][0]
    outs = {"out": (1,), "in": (0,), "both": (0, 1)}[direction]
    ok = sorted(c * 2 + o for c, r in enumerate(names) if rels is None or r in rels for o in outs)
    everything = direction == "both" and (rels is None or set(names) <= set(rels))
    found = dict(cur.execute(_walk_sql(depth, None if everything else ok), [node_id]).fetchall())
    return found or {node_id: 0}


def neighborhood_ids(
    store: KnowledgeStore, node_id: str, *, depth: int = 1, direction: Direction = "both",
    rels: Sequence[str] | None = None, use_adjacency: bool = True,
) -> dict[str, int]:
    """Ids within ``depth`` hops of ``node_id`` mapped to their hop distance.

    Walks the clustered ``adjacency`` table when it is fresh (one rowid lookup per hop), else a recursive
    CTE over ``edges``; both give the same answer (``use_adjacency=False`` forces the CTE).
    """
    if use_adjacency:
        cur = store.cursor()
        try:
            if adjacency_fresh(cur):
                return _walk_adjacency(cur, node_id, depth, direction, rels)
        finally:
            cur.close()
    view, p = _edge_view(direction, rels)
    sql = f"""
    WITH RECURSIVE e AS ({view}),
    walk(id, depth) AS (
        SELECT ?::VARCHAR, 0
        UNION
        SELECT e.b, w.depth + 1 FROM walk w JOIN e ON e.a = w.id WHERE w.depth < ?
    )
    SELECT id, min(depth) AS depth FROM walk GROUP BY id
    """
    cur = store.cursor()
    try:
        return dict(cur.execute(sql, [*p, node_id, depth]).fetchall())
    finally:
        cur.close()


def neighborhood(
    store: KnowledgeStore, node_id: str, *, depth: int = 1, direction: Direction = "both",
    rels: Sequence[str] | None = None, limit: int = 500,
) -> Neighborhood:
    """The k-hop neighbourhood of a node: nodes (closest first, at most ``limit``) and edges among them."""
    dist = neighborhood_ids(store, node_id, depth=depth, direction=direction, rels=rels)
    ordered = sorted(dist.items(), key=lambda kv: (kv[1], kv[0]))
    truncated = len(ordered) > limit
    keep = [k for k, _ in ordered[:limit]]
    meta = {r["id"]: r for r in store.query(
        "SELECT id, kind, name FROM nodes WHERE id IN (SELECT unnest(?::VARCHAR[]))", [keep])}
    nodes = [NeighborNode(id=i, kind=meta[i]["kind"] if i in meta else "unknown",
                          name=meta[i]["name"] if i in meta else None, depth=dist[i]) for i in keep]
    cond = "AND rel IN (SELECT unnest(?::VARCHAR[]))" if rels else ""
    rows = store.query(
        f"SELECT src, dst, rel, props FROM edges WHERE src IN (SELECT unnest($1::VARCHAR[])) "
        f"AND dst IN (SELECT unnest($1::VARCHAR[])) {cond.replace('?', '$2')} ORDER BY src, rel, dst",
        [keep, list(rels)] if rels else [keep],
    )
    return Neighborhood(center=node_id, depth=depth, direction=direction, nodes=nodes,
                        edges=[_edge(r) for r in rows], truncated=truncated)


def shortest_path(
    store: KnowledgeStore, src: str, dst: str, *, max_depth: int = 12, directed: bool = False,
    rels: Sequence[str] | None = None,
) -> PathResult:
    """Breadth-first shortest path, one DuckDB join per layer; ignores edge direction unless ``directed``."""
    if src == dst:
        return PathResult(src=src, dst=dst, found=True, length=0, nodes=[src])
    cond = "AND rel IN (SELECT unnest($2::VARCHAR[]))" if rels else ""
    out = f"SELECT src AS a, dst AS b, src, dst, rel, props FROM edges WHERE src IN (SELECT unnest($1::VARCHAR[])) {cond}"
    inn = f"SELECT dst AS a, src AS b, src, dst, rel, props FROM edges WHERE dst IN (SELECT unnest($1::VARCHAR[])) {cond}"
    sql = out if directed else f"{out} UNION ALL {inn}"
    parent: dict[str, tuple[str, Edge] | None] = {src: None}
    frontier = [src]
    cur = store.cursor()
    try:
        for _ in range(max_depth):
            rows = cur.execute(sql, [frontier, list(rels)] if rels else [frontier]).fetchall()
            nxt: list[str] = []
            for a, b, s, d, rel, props in sorted(rows, key=lambda r: (r[0], r[1], r[4])):
                if b not in parent:
                    parent[b] = (a, _edge((s, d, rel, props)))
                    nxt.append(b)
            if dst in parent or not nxt:
                break
            frontier = nxt
    finally:
        cur.close()
    if dst not in parent:
        return PathResult(src=src, dst=dst, found=False)
    nodes, edges = [dst], []
    step = parent[dst]
    while step is not None:
        prev, edge = step
        nodes.append(prev)
        edges.append(edge)
        step = parent[prev]
    nodes.reverse()
    edges.reverse()
    return PathResult(src=src, dst=dst, found=True, length=len(edges), nodes=nodes, edges=edges)


def impact(
    store: KnowledgeStore, node_id: str, *, direction: Literal["downstream", "upstream"] = "downstream",
    max_depth: int = 30, rels: Sequence[str] = ("feeds",),
) -> list[ImpactItem]:
    """Assets reached from a node along ``feeds`` (downstream: src -> dst; upstream: reverse).

    A line or site starts from every asset that is ``part_of`` it (recursively). Each item
    carries its smallest depth and the node it was first reached from.
    """
    a, b = ("src", "dst") if direction == "downstream" else ("dst", "src")
    sql = f"""
    WITH RECURSIVE members(id) AS (
        SELECT ?::VARCHAR
        UNION
        SELECT e.src FROM members m JOIN edges e ON e.dst = m.id AND e.rel = 'part_of'
    ),
    start AS (SELECT id FROM members),
    walk(id, depth, via) AS (
        SELECT id, 0, NULL::VARCHAR FROM start
        UNION
        SELECT e.{b}, w.depth + 1, w.id FROM walk w
        JOIN edges e ON e.{a} = w.id AND e.rel IN (SELECT unnest(?::VARCHAR[]))
        WHERE w.depth < ?
    ),
    best AS (
        SELECT id, min(depth) AS depth, first(via ORDER BY depth, via) AS via FROM walk
        WHERE id NOT IN (SELECT id FROM start) GROUP BY id
    )
    SELECT b.id, n.kind, n.name, b.depth, b.via, n.props->>'line' AS line
    FROM best b LEFT JOIN nodes n USING (id) ORDER BY b.depth, b.id
    """
    rows = store.query(sql, [node_id, list(rels), max_depth])
    return [ImpactItem(id=r["id"], kind=r["kind"] or "unknown", name=r["name"], depth=r["depth"], via=r["via"],
                       line=r["line"]) for r in rows]


def to_networkx(
    store: KnowledgeStore, *, rels: Sequence[str] | None = None, node_ids: Sequence[str] | None = None
) -> nx.MultiDiGraph:
    """Extract (a subgraph of) the graph into networkx, nodes with kind/name, edges keyed by rel."""
    cond, params = [], []
    if rels:
        cond.append("rel IN (SELECT unnest(?::VARCHAR[]))")
        params.append(list(rels))
    if node_ids is not None:
        cond.append("src IN (SELECT unnest(?::VARCHAR[])) AND dst IN (SELECT unnest(?::VARCHAR[]))")
        params += [list(node_ids), list(node_ids)]
    where = f"WHERE {' AND '.join(cond)}" if cond else ""
    g: nx.MultiDiGraph = nx.MultiDiGraph()
    cur = store.cursor()
    try:
        for src, dst, rel in cur.execute(f"SELECT src, dst, rel FROM edges {where}", params).fetchall():
            g.add_edge(src, dst, key=rel, rel=rel)
        ids = list(g.nodes) if node_ids is None else list(node_ids)
        rows = cur.execute("SELECT id, kind, name FROM nodes WHERE id IN (SELECT unnest(?::VARCHAR[]))", [ids]).fetchall()
    finally:
        cur.close()
    for nid, kind, name in rows:
        g.add_node(nid, kind=kind, name=name)
    return g


def centrality(
    store: KnowledgeStore, *, rels: Sequence[str] = ("feeds",), metric: Literal["betweenness", "degree", "pagerank",
                                                                                "downstream"] = "betweenness",
    top: int = 10,
) -> list[tuple[str, float]]:
    """Most central nodes of the subgraph of ``rels`` (networkx on the extracted subgraph).

    ``downstream`` counts the nodes reachable from each node (how much a failure there stops).
    """
    g = nx.DiGraph(to_networkx(store, rels=rels))
    if g.number_of_nodes() == 0:
        return []
    if metric == "betweenness":
        scores = nx.betweenness_centrality(g, normalized=True)
    elif metric == "degree":
        scores = nx.degree_centrality(g)
    elif metric == "pagerank":
        scores = nx.pagerank(g)
    else:
        scores = {n: float(len(nx.descendants(g, n))) for n in g.nodes}
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return [(n, round(float(s), 6)) for n, s in ranked]
