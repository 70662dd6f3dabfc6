-- m030_adjacency: a clustered adjacency copy of `edges` for fast k-hop walks (edges stays the source of truth).
-- One row per node that has an edge, ordered by id, so that rowid = idx; the lists are parallel:
-- nbrs (neighbour idx = its rowid) and codes (rel_code * 2 + 1 when this node is the edge's src, + 0 when
-- its dst; rel_code = position in adjacency_state.rels). Integer lists only: string lists scan ~10x slower.
-- Rebuilt by knowledge.graph.traverse.refresh_adjacency; adjacency_state.edges is the edge count it was
-- built from: a different count (or stale) makes the walks fall back to the recursive CTE over edges.
CREATE TABLE IF NOT EXISTS adjacency (
    idx     INTEGER,
    id      TEXT,
    nbrs    INTEGER[],
    codes   INTEGER[]
);
CREATE TABLE IF NOT EXISTS adjacency_state (
    edges    BIGINT,
    stale    BOOLEAN,
    built_at TIMESTAMP,
    rels     TEXT[]
);
