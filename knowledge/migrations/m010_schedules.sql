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
