"""Per-kind writers: turn the typed staging table into nodes, edges and fact rows (idempotently)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pandas as pd

from knowledge.graph.traverse import refresh_adjacency
from knowledge.importers.mapping import FIELDS, ImportFileError, Mapping, norm_col
from knowledge.importers.stage import RAW, TYPED, num_expr, qcol, resolve_columns, sql_str, ts_expr

__all__ = ["Acc", "guess_sensor_type", "write_kind"]

_SENSOR_WORDS = (("temp", "temperature"), ("vib", "vibration"), ("curr", "current"), ("amp", "current"),
                 ("press", "pressure"), ("flow", "flow"), ("power", "power"), ("kw", "power"), ("speed", "speed"),
                 ("rpm", "speed"), ("level", "level"), ("humid", "humidity"))
_WO_TYPES = (("prev", "preventive"), ("pm", "preventive"), ("plan", "preventive"), ("sched", "preventive"),
             ("corr", "corrective"), ("cm", "corrective"), ("break", "corrective"), ("bd", "corrective"),
             ("repair", "corrective"), ("fail", "corrective"), ("emerg", "corrective"), ("pred", "predictive"),
             ("pdm", "predictive"), ("cond", "predictive"), ("insp", "inspection"), ("check", "inspection"))
_WO_STATUS = (("cancel", "cancelled"), ("progress", "in_progress"), ("wip", "in_progress"), ("start", "in_progress"),
              ("clos", "closed"), ("complet", "closed"), ("done", "closed"), ("finish", "closed"), ("comp", "closed"),
              ("open", "open"), ("new", "open"), ("creat", "open"), ("wait", "open"))


@dataclass
class Acc:
    """What an import did so far."""

    rejects: list[tuple[int, str]] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    edges_created: int = 0
    facts_inserted: int = 0
    accepted: int = 0


def guess_sensor_type(name: str) -> str:
    """'Motor Temp (degC)' -> 'temperature'; 'other' when nothing matches."""
    n = name.lower()
    return next((t for k, t in _SENSOR_WORDS if k in n), "other")


def _pick(value: str | None, table: tuple[tuple[str, str], ...], default: str) -> str:
    if not value:
        return default
    v = value.strip().lower()
    return next((t for k, t in table if v.startswith(k) or k in v.split()), "other" if default != "open" else default)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def upsert_nodes(con: duckdb.DuckDBPyConnection, rows: list[tuple[str, str, str | None, dict[str, Any]]],
                 acc: Acc) -> None:
    """Insert or merge nodes (props are merged, later rows win); new ids are recorded as created."""
    merged: dict[str, list[Any]] = {}
    for nid, kind, name, props in rows:
        clean = {k: v for k, v in props.items() if v is not None and v != []}
        if nid in merged:
            merged[nid][2] = name or merged[nid][2]
            merged[nid][3].update(clean)
        else:
            merged[nid] = [nid, kind, name, clean]
    if not merged:
        return
    df = pd.DataFrame([(i, k, n, json.dumps(p)) for i, k, n, p in merged.values()],
                      columns=["id", "kind", "name", "props"])
    con.register("_imp_nodes", df)
    new = [r[0] for r in con.execute("SELECT id FROM _imp_nodes WHERE id NOT IN (SELECT id FROM nodes)").fetchall()]
    con.execute("INSERT INTO nodes SELECT id, kind, name, props FROM _imp_nodes ON CONFLICT (id) DO UPDATE SET "
                "name = coalesce(excluded.name, nodes.name), "
                "props = json_merge_patch(coalesce(nodes.props, '{}'), coalesce(excluded.props, '{}'))")
    con.unregister("_imp_nodes")
    acc.created += new


def insert_edges(con: duckdb.DuckDBPyConnection, rows: list[tuple[str, str, str, dict[str, Any] | None]],
                 acc: Acc) -> None:
    """Insert edges that do not exist yet (edge props of existing edges are updated)."""
    uniq = {(s, d, r): p for s, d, r, p in rows}
    if not uniq:
        return
    df = pd.DataFrame([(s, d, r, json.dumps(p) if p else None) for (s, d, r), p in uniq.items()],
                      columns=["src", "dst", "rel", "props"])
    con.register("_imp_edges", df)
    acc.edges_created += int(con.execute("SELECT count(*) FROM _imp_edges x ANTI JOIN edges e USING (src, dst, rel)"
                                         ).fetchall()[0][0])  # type: ignore[index]
    con.execute("INSERT INTO edges SELECT * FROM _imp_edges ON CONFLICT (src, dst, rel) DO UPDATE SET "
                "props = coalesce(excluded.props, edges.props)")
    con.unregister("_imp_edges")
    refresh_adjacency(con)


def _existing(con: duckdb.DuckDBPyConnection, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    rows = con.execute("SELECT id, kind FROM nodes WHERE id IN (SELECT unnest(?::VARCHAR[]))", [sorted(ids)]).fetchall()
    return dict(rows)


def _valid_rows(con: duckdb.DuckDBPyConnection, acc: Acc, *, key: str | None = None) -> list[dict[str, Any]]:
    """Valid typed rows; rejected ones (and later duplicates of ``key``) go to ``acc.rejects``."""
    cur = con.execute(f"SELECT * FROM {TYPED} ORDER BY _line")
    cols = [d[0] for d in cur.description]
    seen: dict[str, int] = {}
    out = []
    for values in cur.fetchall():
        r = dict(zip(cols, values, strict=True))
        if r["_reason"]:
            acc.rejects.append((r["_line"], r["_reason"]))
            continue
        if key and r[key] is not None:
            if r[key] in seen:
                acc.rejects.append((r["_line"], f"duplicate {key} {r[key]!r} (first on row {seen[r[key]]})"))
                continue
            seen[r[key]] = r["_line"]
        out.append(r)
    return out


def _ensure_assets(con: duckdb.DuckDBPyConnection, ids: set[str], acc: Acc) -> None:
    missing = sorted(ids - set(_existing(con, ids)))
    upsert_nodes(con, [(a, "asset", a, {"class": "unknown", "created_by": "import"}) for a in missing], acc)


def _assets(con: duckdb.DuckDBPyConnection, acc: Acc) -> None:
    nodes: list[tuple[str, str, str | None, dict[str, Any]]] = []
    edges: list[tuple[str, str, str, dict[str, Any] | None]] = []
    rows = _valid_rows(con, acc, key="id")
    for r in rows:
        props = {k: r[k] for k in ("class", "line", "site", "manufacturer", "install_year", "rated_power_kw", "aliases")}
        if r["class"]:
            props["class"] = _slug(r["class"])
            nodes.append((f"class:{props['class']}", "asset_class", r["class"], {"class": props["class"]}))
            edges.append((r["id"], f"class:{props['class']}", "instance_of", None))
        nodes.append((r["id"], "asset", r["name"], props))
        if r["line"]:
            nodes.append((r["line"], "line", None, {"site": r["site"]}))
            edges.append((r["id"], r["line"], "part_of", None))
        if r["site"]:
            nodes.append((r["site"], "site", None, {}))
            edges.append((r["line"], r["site"], "part_of", None) if r["line"] else (r["id"], r["site"], "part_of", None))
        edges += [(r["id"], d, "feeds", None) for d in r["feeds"] or []]
    known = {n[0] for n in nodes}
    feed_targets = {d for r in rows for d in r["feeds"] or []} - known
    upsert_nodes(con, nodes, acc)
    _ensure_assets(con, feed_targets, acc)
    insert_edges(con, edges, acc)
    acc.accepted = len(rows)


def _sensors(con: duckdb.DuckDBPyConnection, acc: Acc) -> None:
    rows = [r for r in _valid_rows(con, acc, key="id")]
    good = []
    for r in rows:
        if not r["id"]:
            if not r["type"]:
                acc.rejects.append((r["_line"], "missing id (or type to build '<asset>.<type>')"))
                continue
            r["id"] = f"{r['asset_id']}.{_slug(r['type'])}"
        good.append(r)
    _ensure_assets(con, {r["asset_id"] for r in good}, acc)
    nodes = []
    for r in good:
        props = {k: r[k] for k in ("unit", "asset_id", "normal_low", "normal_high", "alarm_low", "alarm_high")}
        props["type"] = _slug(r["type"]) if r["type"] else guess_sensor_type(r["id"].split(".")[-1])
        nodes.append((r["id"], "sensor", r["name"] or f"{r['asset_id']} {props['type']}", props))
    upsert_nodes(con, nodes, acc)
    insert_edges(con, [(r["asset_id"], r["id"], "has_sensor", None) for r in good], acc)
    acc.accepted = len(good)


def _work_orders(con: duckdb.DuckDBPyConnection, acc: Acc) -> None:
    rows = _valid_rows(con, acc, key="id")
    _ensure_assets(con, {r["asset_id"] for r in rows}, acc)
    fm_by_code = {(c, code.upper()): fid for fid, c, code in con.execute(
        "SELECT id, props->>'asset_class', props->>'code' FROM nodes WHERE kind = 'failure_mode' AND "
        "props->>'code' IS NOT NULL").fetchall()}
    classes = dict(con.execute("SELECT id, props->>'class' FROM nodes WHERE kind = 'asset'").fetchall())
    recs = []
    for r in rows:
        status = _pick(r["status"], _WO_STATUS, "closed" if r["finished_at"] else "open")
        fm = r["failure_mode_id"] or (fm_by_code.get((classes.get(r["asset_id"]), r["failure_code"].upper()))
                                      if r["failure_code"] else None)
        recs.append((r["id"], r["asset_id"], _pick(r["type"], _WO_TYPES, "other"), r["description"], r["failure_code"],
                     fm, r["component"], r["reported_at"] or r["started_at"], r["started_at"], r["finished_at"],
                     status, "import"))
    if recs:
        df = pd.DataFrame(recs, columns=["id", "asset_id", "type", "description", "failure_code", "failure_mode_id",
                                         "component", "reported_at", "started_at", "finished_at", "status",
                                         "created_by"])
        con.register("_imp_wo", df)
        acc.facts_inserted += int(con.execute("SELECT count(*) FROM _imp_wo WHERE id NOT IN "
                                              "(SELECT id FROM work_orders)").fetchall()[0][0])  # type: ignore[index]
        cols = ", ".join(df.columns)
        sets = ", ".join(f"{c} = excluded.{c}" for c in df.columns if c != "id")
        con.execute(f"INSERT INTO work_orders ({cols}) SELECT {cols} FROM _imp_wo ON CONFLICT (id) DO UPDATE SET {sets}")
        con.unregister("_imp_wo")
    acc.accepted = len(rows)


_DIR = {"up": "up", "high": "up", "rising": "up", "increase": "up", "increasing": "up", "rise": "up",
        "down": "down", "low": "down", "falling": "down", "decrease": "down", "decreasing": "down", "drop": "down"}


def _failure_modes(con: duckdb.DuckDBPyConnection, acc: Acc) -> None:
    nodes: list[tuple[str, str, str | None, dict[str, Any]]] = []
    edges: list[tuple[str, str, str, dict[str, Any] | None]] = []
    n = 0
    for r in _valid_rows(con, acc):
        bad = [f"{k} {r[k]} outside 1..10" for k in ("severity", "occurrence", "detection")
               if r[k] is not None and not 1 <= r[k] <= 10]
        if r["likelihood"] is not None and not 0 <= r["likelihood"] <= 1:
            bad.append(f"likelihood {r['likelihood']} outside 0..1")
        stype, direction = r["sensor_type"], r["direction"]
        if r["symptom"]:
            parts = [p for p in re.split(r"[\s_:/-]+", r["symptom"].lower()) if p]
            dirs = [p for p in parts if p in _DIR]
            rest = [p for p in parts if p not in _DIR]
            stype, direction = (rest[0] if rest else stype), (_DIR[dirs[0]] if dirs else direction)
        if stype and not direction:
            bad.append(f"symptom {r['symptom'] or stype!r} needs a direction (up/down)")
        if direction and _DIR.get(str(direction).lower()) is None:
            bad.append(f"direction {direction!r} is not up/down")
        if bad:
            acc.rejects.append((r["_line"], "; ".join(bad)))
            continue
        n += 1
        cls = _slug(r["asset_class"])
        fid = r["id"] or f"fm:{cls}.{_slug(r['failure_mode'])}"
        nodes.append((f"class:{cls}", "asset_class", r["asset_class"], {"class": cls}))
        props: dict[str, Any] = {k: r[k] for k in ("code", "component", "severity", "occurrence", "detection")}
        props["asset_class"] = cls
        if all(r[k] is not None for k in ("severity", "occurrence", "detection")):
            props["rpn"] = r["severity"] * r["occurrence"] * r["detection"]
        nodes.append((fid, "failure_mode", r["failure_mode"], props))
        edges.append((f"class:{cls}", fid, "may_fail_by", None))
        if stype:
            d = _DIR[str(direction).lower()]
            sid = f"sym:{_slug(stype)}_{d}"
            nodes.append((sid, "symptom", f"{stype.capitalize()} {'rising' if d == 'up' else 'falling'}",
                          {"sensor_type": _slug(stype), "direction": d}))
            edges.append((fid, sid, "shows_symptom", {"likelihood": r["likelihood"] if r["likelihood"] is not None
                                                      else 0.5}))
        if r["remedy"]:
            rid = f"rem:{_slug(r['remedy'])}"
            nodes.append((rid, "remedy", r["remedy"], {"duration_h": r["remedy_duration_h"], "parts": r["parts"],
                                                      "cost": r["cost"]}))
            edges.append((fid, rid, "fixed_by", None))
    upsert_nodes(con, nodes, acc)
    insert_edges(con, edges, acc)
    acc.accepted = n


def _alerts(con: duckdb.DuckDBPyConnection, acc: Acc) -> None:
    rows = _valid_rows(con, acc, key="id")
    _ensure_assets(con, {r["asset_id"] for r in rows}, acc)
    recs = []
    for r in rows:
        det = r["detector"] or "import"
        sensors = r["sensor_ids"] or []
        aid = r["id"] or "AL-" + hashlib.sha1(
            f"{r['asset_id']}|{','.join(sensors)}|{det}|{r['start_ts'].isoformat()}".encode()).hexdigest()[:12]
        recs.append((aid, r["asset_id"], sensors, r["start_ts"], r["end_ts"], r["score"], det,
                     (r["severity"] or "warning").lower(), (r["status"] or "open").lower()))
    if recs:
        df = pd.DataFrame(recs, columns=["id", "asset_id", "sensor_ids", "start_ts", "end_ts", "score", "detector",
                                         "severity", "status"]).drop_duplicates("id")
        con.register("_imp_al", df)
        acc.facts_inserted += int(con.execute("SELECT count(*) FROM _imp_al WHERE id NOT IN (SELECT id FROM alerts)"
                                              ).fetchall()[0][0])  # type: ignore[index]
        cols = ", ".join(df.columns)
        sets = ", ".join(f"{c} = excluded.{c}" for c in df.columns if c != "id")
        con.execute(f"INSERT INTO alerts ({cols}) SELECT id, asset_id, CAST(sensor_ids AS VARCHAR[]), start_ts, end_ts,"
                    f" score, detector, severity, status FROM _imp_al ON CONFLICT (id) DO UPDATE SET {sets}")
        con.unregister("_imp_al")
    acc.accepted = len(rows)


def _edges(con: duckdb.DuckDBPyConnection, acc: Acc) -> None:
    rows = _valid_rows(con, acc)
    known = _existing(con, {r["src"] for r in rows} | {r["dst"] for r in rows})
    good = []
    for r in rows:
        missing = [x for x in (r["src"], r["dst"]) if x not in known]
        if missing:
            acc.rejects.append((r["_line"], f"unknown node {missing[0]!r}; import it first (kind assets/sensors)"))
        else:
            good.append((r["src"], r["dst"], r["rel"], None))
    insert_edges(con, good, acc)
    acc.accepted = len(good)


def _readings_long(con: duckdb.DuckDBPyConnection, acc: Acc, asset: str | None) -> None:
    prefix = f"CASE WHEN contains(sensor_id, '.') THEN sensor_id ELSE {sql_str(asset)} || '.' || sensor_id END" \
        if asset else "sensor_id"
    for line, reason in con.execute(f"SELECT _line, _reason FROM {TYPED} WHERE _reason IS NOT NULL").fetchall():
        acc.rejects.append((line, reason))
    con.execute(f"CREATE OR REPLACE TEMP TABLE _imp_long AS SELECT {prefix} AS sensor_id, ts, value FROM {TYPED} "
                "WHERE _reason IS NULL")
    acc.accepted = int(con.execute("SELECT count(*) FROM _imp_long").fetchall()[0][0])  # type: ignore[index]
    sensors = [r[0] for r in con.execute("SELECT DISTINCT sensor_id FROM _imp_long ORDER BY 1").fetchall()]
    _ensure_sensors(con, sensors, {s: s.split(".")[-1] for s in sensors}, asset, acc)
    _insert_readings(con, "_imp_long", sensors, acc)


def _ensure_sensors(con: duckdb.DuckDBPyConnection, sensors: list[str], labels: dict[str, str], asset: str | None,
                    acc: Acc) -> None:
    known = _existing(con, set(sensors))
    new = [s for s in sensors if s not in known]
    owners = {s: (asset or (s.rsplit(".", 1)[0] if "." in s else None)) for s in new}
    owner_ids = {o for o in owners.values() if o}
    existing_owners = set(_existing(con, owner_ids))
    if asset:
        _ensure_assets(con, {asset}, acc)
        existing_owners.add(asset)
    nodes, edges = [], []
    for s in new:
        o = owners[s] if owners[s] in existing_owners else None
        unit = re.search(r"\(([^)]*)\)|\[([^\]]*)\]", labels[s])
        nodes.append((s, "sensor", s.replace(".", " "), {"asset_id": o, "type": guess_sensor_type(labels[s]),
                                                         "unit": (unit.group(1) or unit.group(2)) if unit else None}))
        if o:
            edges.append((o, s, "has_sensor", None))
    upsert_nodes(con, nodes, acc)
    insert_edges(con, edges, acc)


def _insert_readings(con: duckdb.DuckDBPyConnection, source: str, sensors: list[str], acc: Acc, *,
                     unique: bool = False) -> None:
    """Insert (sensor_id, ts, value) rows of ``source`` (a table or a parenthesised query) not in readings yet.

    New rows only (anti-join against readings when any of ``sensors`` has readings already); duplicates in
    the file are written once. ``unique`` says the staged rows have no duplicate (sensor_id, ts), which
    skips the de-duplication.
    """
    has_any = con.execute("SELECT count(*) FROM (SELECT 1 FROM readings WHERE sensor_id IN "
                          "(SELECT unnest(?::VARCHAR[])) LIMIT 1)", [sensors]).fetchall()[0][0]  # type: ignore[index]
    dedup = (f"SELECT sensor_id, ts, value FROM {source}" if unique else
             f"SELECT sensor_id, ts, any_value(value) AS value FROM {source} GROUP BY sensor_id, ts")
    src = f"({dedup}) t ANTI JOIN readings r ON r.sensor_id = t.sensor_id AND r.ts = t.ts" if has_any else f"({dedup}) t"
    before = int(con.execute("SELECT count(*) FROM readings").fetchall()[0][0])  # type: ignore[index]
    con.execute(f"INSERT INTO readings SELECT t.sensor_id, t.ts, t.value FROM {src}")
    acc.facts_inserted += int(con.execute("SELECT count(*) FROM readings").fetchall()[0][0]) - before  # type: ignore[index]


def _readings_wide(con: duckdb.DuckDBPyConnection, acc: Acc, columns: list[str], mapping: Mapping,
                   asset: str | None) -> None:
    ts_col = resolve_columns("readings", columns, Mapping(columns={k: v for k, v in mapping.columns.items()
                                                                   if v == "ts"}, timestamp_format=mapping.timestamp_format),
                             optional_required={"sensor_id", "value"})["ts"]
    values = [c for c in columns if c != ts_col and norm_col(c) not in ("", "column0")]
    if not values:
        raise ImportFileError(f"wide readings need sensor columns besides {ts_col!r}")
    if asset is None and not all("." in c for c in values):
        raise ImportFileError("wide readings need --asset ASSET to name the sensors' asset, or columns named "
                              f"'<asset>.<sensor>'; got columns {', '.join(map(repr, values[:8]))}")
    sid = {c: (c if "." in c and asset is None else f"{asset}.{norm_col(c) or 'value'}") for c in values}
    typed = {c: f"_v{i}" for i, c in enumerate(values)}
    casts = ", ".join(f"{num_expr(qcol(c), mapping.decimal)} AS {typed[c]}" for c in values)
    checks = ", ".join(
        f"CASE WHEN {typed[c]} IS NULL AND NULLIF(trim({qcol(c)}), '') IS NOT NULL "
        f"THEN {sql_str('column ' + repr(c) + ': ')} || '''' || trim({qcol(c)}) || '''' || ' is not a number' END"
        for c in values)
    ts = ts_expr(qcol(ts_col), mapping.formats)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _imp_wide AS
        WITH base AS (
            SELECT l._line_no AS _line, {ts} AS ts, trim({qcol(ts_col)}) AS _ts_raw, {casts},
                   {', '.join(qcol(c) for c in values)}
            FROM (SELECT rowid - (SELECT min(rowid) FROM {RAW}) AS _rid, * FROM {RAW}) r
            JOIN _imp_lines l ON l._rid = r._rid)
        SELECT _line, ts, NULLIF(concat_ws('; ',
            CASE WHEN NULLIF(_ts_raw, '') IS NULL THEN 'missing timestamp' END,
            CASE WHEN NULLIF(_ts_raw, '') IS NOT NULL AND ts IS NULL
                 THEN 'unparseable timestamp ' || '''' || _ts_raw || '''' END, {checks}), '') AS _reason,
            {', '.join(typed.values())}
        FROM base""")
    for line, reason in con.execute("SELECT _line, _reason FROM _imp_wide WHERE _reason IS NOT NULL ORDER BY _line"
                                    ).fetchall():
        acc.rejects.append((line, reason))
    acc.accepted = int(con.execute("SELECT count(*) FROM _imp_wide WHERE _reason IS NULL").fetchall()[0][0])
    con.register("_imp_cols", pd.DataFrame({"col": list(typed.values()), "sensor_id": [sid[c] for c in values]}))
    long = f"""(SELECT m.sensor_id, u.ts, u.value
        FROM (UNPIVOT (SELECT ts, {', '.join(typed.values())} FROM _imp_wide WHERE _reason IS NULL)
              ON {', '.join(typed.values())} INTO NAME col VALUE value) u
        JOIN _imp_cols m USING (col))"""
    unique_ts = con.execute("SELECT count(DISTINCT ts) = count(*) FROM _imp_wide WHERE _reason IS NULL").fetchall()[0][0]
    sensors = [sid[c] for c in values]
    _ensure_sensors(con, sensors, {sid[c]: c for c in values}, asset, acc)
    _insert_readings(con, long, sensors, acc, unique=bool(unique_ts))
    con.unregister("_imp_cols")


def write_kind(con: duckdb.DuckDBPyConnection, kind: str, columns: list[str], mapping: Mapping, asset: str | None,
               acc: Acc) -> str:
    """Write the staged file as ``kind``; returns the format used ('long'/'wide' for readings, else kind)."""
    from knowledge.importers.stage import typed_table

    if kind == "readings":
        try:
            cols = resolve_columns("readings", columns, mapping)
        except ImportFileError:
            _readings_wide(con, acc, columns, mapping, asset)
            return "wide"
        typed_table(con, kind, cols, mapping)
        _readings_long(con, acc, asset)
        return "long"
    typed_table(con, kind, resolve_columns(kind, columns, mapping), mapping)
    {"assets": _assets, "sensors": _sensors, "work_orders": _work_orders, "failure_modes": _failure_modes,
     "alerts": _alerts, "edges": _edges}[kind](con, acc)
    assert kind in FIELDS
    return kind
