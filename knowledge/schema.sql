-- indagent knowledge graph, the current schema (migrations build it; see knowledge/migrations).
-- Property graph ---------------------------------------------------------------------------
-- kinds: site, line, asset, component, sensor, asset_class, failure_mode, symptom, remedy,
--        product, operation, compute_node, model
CREATE TABLE nodes (
    id    TEXT PRIMARY KEY,
    kind  TEXT NOT NULL,
    name  TEXT,
    props JSON
);
-- rels: part_of, has_sensor, feeds, instance_of, may_fail_by, shows_symptom, fixed_by,
--       measured_by, runs_on, detects
CREATE TABLE edges (
    src   TEXT NOT NULL,
    dst   TEXT NOT NULL,
    rel   TEXT NOT NULL,
    props JSON,
    PRIMARY KEY (src, dst, rel)
);
-- Facts ---------------------------------------------------------------------------------------
CREATE TABLE readings (          -- no PK: bulk loads; importers de-duplicate with anti-joins
    sensor_id TEXT NOT NULL,
    ts        TIMESTAMP NOT NULL,
    value     DOUBLE
);
CREATE TABLE work_orders (
    id              TEXT PRIMARY KEY,
    asset_id        TEXT NOT NULL,
    type            TEXT NOT NULL,   -- preventive | corrective | predictive | inspection | other
    description     TEXT,
    failure_code    TEXT,            -- CMMS failure/event code
    failure_mode_id TEXT,            -- node id of the failure mode when known
    component       TEXT,
    reported_at     TIMESTAMP,
    started_at      TIMESTAMP,
    finished_at     TIMESTAMP,
    status          TEXT NOT NULL,   -- open | in_progress | closed | cancelled
    alert_id        TEXT,
    created_by      TEXT,
    props           JSON
);
CREATE TABLE alerts (
    id            TEXT PRIMARY KEY,  -- deterministic: hash(asset, sensors, detector, start)
    asset_id      TEXT NOT NULL,
    sensor_ids    TEXT[],
    start_ts      TIMESTAMP NOT NULL,
    end_ts        TIMESTAMP,
    score         DOUBLE,
    detector      TEXT NOT NULL,
    severity      TEXT,              -- info | warning | alarm
    contributions JSON,              -- {sensor_id: share}
    status        TEXT NOT NULL DEFAULT 'open',
    created_at    TIMESTAMP
);
CREATE TABLE production_orders (
    id         TEXT PRIMARY KEY,
    product_id TEXT,
    quantity   INTEGER,
    line_id    TEXT,
    release_ts TIMESTAMP,
    due_ts     TIMESTAMP,
    priority   INTEGER DEFAULT 1,   -- weight for tardiness
    status     TEXT NOT NULL DEFAULT 'planned',
    props      JSON
);
-- routing: one row per (order, operation, eligible machine)
CREATE TABLE order_operations (
    order_id     TEXT NOT NULL,
    seq          INTEGER NOT NULL,  -- 0-based position in the order's routing
    name         TEXT,
    machine_id   TEXT NOT NULL,     -- asset node id
    duration_min INTEGER NOT NULL,
    PRIMARY KEY (order_id, seq, machine_id)
);
-- ground truth of the injected faults of the demo plant (read by evals)
CREATE TABLE fault_truth (
    id              TEXT PRIMARY KEY,
    asset_id        TEXT NOT NULL,
    failure_mode_id TEXT NOT NULL,
    kind            TEXT NOT NULL,   -- gradual | abrupt
    onset_ts        TIMESTAMP NOT NULL,
    failure_ts      TIMESTAMP NOT NULL,
    sensor_ids      TEXT[],
    description     TEXT
);
-- approved setpoints (who / when / why)
CREATE TABLE setpoints (
    id          TEXT PRIMARY KEY,
    asset_id    TEXT NOT NULL,
    tag         TEXT NOT NULL,
    value       DOUBLE NOT NULL,
    unit        TEXT,
    applied_at  TIMESTAMP NOT NULL,
    approved_by TEXT,
    reason      TEXT,
    run_id      TEXT,
    props       JSON              -- m020: system, predicted saving, tariff, carbon
);
-- Published production schedules (scheduling agent, tools.scheduling.publish_schedule).
-- payload is the ProductionSchedule JSON; publishing a plan supersedes the line's previous one.
CREATE TABLE IF NOT EXISTS schedules (
    id         TEXT PRIMARY KEY,      -- the draft id (sch-<hash>)
    created_at TIMESTAMP NOT NULL,
    created_by TEXT,
    status     TEXT NOT NULL,         -- published | superseded
    line_id    TEXT,                  -- NULL = plan over every line
    note       TEXT,
    payload    JSON NOT NULL
);
-- m030 (fast k-hop walks; rebuilt by knowledge.graph.traverse.refresh_adjacency)
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
