"""Generate the ``chat`` suite from the knowledge graph itself (ground truth by direct SQL).

Every expected answer is computed here from the demo's own tables (never typed by hand), with
SQL that is independent of the tools under test, so the cases stay true when the demo changes.
Phrasing varies: ids, names and aliases; synonyms; word order; dates as "2024-06-01",
"June 2024", "the week of 2024-03-04".
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from knowledge.store import KnowledgeStore

__all__ = ["generate"]

Case = dict[str, Any]


def _assets(kg: KnowledgeStore) -> list[dict[str, Any]]:
    rows = kg.query("SELECT id, name, props->>'class' AS cls, props->'aliases' AS aliases FROM nodes "
                    "WHERE kind = 'asset' ORDER BY id")
    import json

    for r in rows:
        r["aliases"] = json.loads(r["aliases"]) if isinstance(r["aliases"], str) else (r["aliases"] or [])
    return rows


def _pick(rng: random.Random, seq: list[Any], k: int) -> list[Any]:
    """Up to ``k`` distinct items (fewer on a small plant)."""
    return rng.sample(seq, min(k, len(seq)))


def _ref(rng: random.Random, a: dict[str, Any]) -> str:
    """Refer to an asset by id, name or alias."""
    options = [a["id"], a["id"], a["name"], *a["aliases"][:1]]
    return rng.choice([o for o in options if o])


def _class_fms(kg: KnowledgeStore, cls: str) -> list[dict[str, Any]]:
    return kg.query("SELECT n.id, n.name FROM edges e JOIN nodes n ON n.id = e.dst WHERE e.src = ? "
                    "AND e.rel = 'may_fail_by' ORDER BY n.id", [f"class:{cls}"])


def _walk(kg: KnowledgeStore, src: str, *, down: bool) -> list[str]:
    a, b = ("src", "dst") if down else ("dst", "src")
    rows = kg.query(f"""
        WITH RECURSIVE r(id) AS (
            SELECT {b} FROM edges WHERE {a} = ? AND rel = 'feeds'
            UNION SELECT e.{b} FROM edges e JOIN r ON e.{a} = r.id WHERE e.rel = 'feeds')
        SELECT DISTINCT r.id FROM r JOIN nodes n ON n.id = r.id WHERE n.kind = 'asset' AND r.id <> ?""", [src, src])
    return sorted(r["id"] for r in rows)


def _fm_cases(kg: KnowledgeStore, rng: random.Random, assets: list[dict[str, Any]]) -> Iterator[Case]:
    templates = ["What are the failure modes of {x}?", "List the failure modes of {x}.", "How can {x} fail?",
                 "what failure modes does {x} have", "Which ways can {x} fail?"]
    for i, a in enumerate(_pick(rng, assets, 6)):
        names = [f["name"] for f in _class_fms(kg, a["cls"])]
        yield {"id": f"fm-asset-{i}", "text": rng.choice(templates).format(x=_ref(rng, a)), "expected": names,
               "check": "set_equal", "group": "failure_modes", "expect_tools": ["list_failure_modes"]}
    class_words = {"chiller": "a chiller", "pump": "pumps", "compressor": "air compressors", "robot": "a robot",
                   "conveyor": "conveyors", "press": "hydraulic presses"}
    class_words = {c: w for c, w in class_words.items() if _class_fms(kg, c)}
    for i, (cls, word) in enumerate(class_words.items()):
        names = [f["name"] for f in _class_fms(kg, cls)]
        yield {"id": f"fm-class-{i}", "text": rng.choice(templates).format(x=word), "expected": names,
               "check": "set_equal", "group": "failure_modes"}
    all_fm = kg.query("SELECT DISTINCT name FROM nodes WHERE kind = 'failure_mode' ORDER BY name")
    for i, (cls, word) in enumerate(list(class_words.items())[:4]):
        own = {f["name"] for f in _class_fms(kg, cls)}
        yes = sorted(own)[i % len(own)]
        no = next(r["name"] for r in all_fm if len(r["name"]) > 6 and not any(
            r["name"].lower() in o.lower() or o.lower() in r["name"].lower() for o in own))
        yield {"id": f"fm-yes-{i}", "text": f"Can {word} fail by {yes.lower()}?", "expected": True, "check": "yes_no",
               "group": "yes_no"}
        yield {"id": f"fm-no-{i}", "text": f"Is {no.lower()} a failure mode of {word}?", "expected": False,
               "check": "yes_no", "group": "yes_no"}


def _sensor_fm_cases(kg: KnowledgeStore, rng: random.Random, assets: list[dict[str, Any]]) -> Iterator[Case]:
    templates = ["Which sensors detect {fm} on {x}?", "what sensors would show {fm} on {x}?",
                 "On {x}, which sensors indicate {fm}?"]
    for i, a in enumerate(_pick(rng, assets, 8)):
        fms = _class_fms(kg, a["cls"])
        fm = rng.choice(fms)
        same = [f for f in fms if f["name"].lower() == fm["name"].lower()]
        if len(same) > 1:
            continue
        rows = kg.query("""
            SELECT DISTINCT s.id FROM edges fe JOIN nodes sym ON sym.id = fe.dst
            JOIN edges hs ON hs.src = ? AND hs.rel = 'has_sensor' JOIN nodes s ON s.id = hs.dst
            WHERE fe.src = ? AND fe.rel = 'shows_symptom' AND s.props->>'type' = sym.props->>'sensor_type'
            ORDER BY s.id""", [a["id"], fm["id"]])
        yield {"id": f"fm-sensors-{i}", "text": rng.choice(templates).format(fm=fm["name"].lower(), x=_ref(rng, a)),
               "expected": [r["id"] for r in rows], "check": "set_equal", "group": "sensors",
               "expect_tools": ["sensors_for_failure_mode"]}


def _impact_cases(kg: KnowledgeStore, rng: random.Random, assets: list[dict[str, Any]]) -> Iterator[Case]:
    feeders = [a for a in assets if _walk(kg, a["id"], down=True)]
    down_t = ["Which assets are downstream of {x}?", "What is affected if {x} stops?", "what does {x} feed?",
              "list everything downstream of {x}"]
    for i, a in enumerate(_pick(rng, feeders, 6)):
        yield {"id": f"down-{i}", "text": rng.choice(down_t).format(x=_ref(rng, a)),
               "expected": _walk(kg, a["id"], down=True), "check": "set_equal", "group": "impact",
               "expect_tools": ["downstream_assets"]}
    fed = [a for a in assets if _walk(kg, a["id"], down=False)]
    up_t = ["Which assets are upstream of {x}?", "What feeds {x}?"]
    for i, a in enumerate(_pick(rng, fed, 4)):
        yield {"id": f"up-{i}", "text": rng.choice(up_t).format(x=_ref(rng, a)),
               "expected": _walk(kg, a["id"], down=False), "check": "set_equal", "group": "impact"}
    for i, a in enumerate(_pick(rng, feeders, 4)):
        down = _walk(kg, a["id"], down=True)
        other = [b["id"] for b in assets if b["id"] not in down and b["id"] != a["id"]]
        probe, truth = (rng.choice(down), True) if i % 2 == 0 else (rng.choice(other), False)
        yield {"id": f"down-yn-{i}", "text": f"Is {probe} downstream of {a['id']}?", "expected": truth,
               "check": "yes_no", "group": "yes_no"}


def _wo_count(kg: KnowledgeStore, asset: str, start: datetime, end: datetime, wtype: str | None = None) -> int:
    sql = "SELECT count(*) FROM work_orders WHERE asset_id = ? AND reported_at >= ? AND reported_at < ?"
    params: list[Any] = [asset, start, end]
    if wtype:
        sql += " AND type = ?"
        params.append(wtype)
    return int(kg.scalar(sql, params) or 0)


def _wo_cases(kg: KnowledgeStore, rng: random.Random, assets: list[dict[str, Any]]) -> Iterator[Case]:
    years = [int(r["y"]) for r in kg.query("SELECT DISTINCT year(reported_at) AS y FROM work_orders ORDER BY y")]
    count_t = ["How many work orders did {x} have in {y}?", "Number of work orders for {x} in {y}?",
               "how many maintenance work orders were raised on {x} during {y}"]
    for i, a in enumerate(_pick(rng, assets, 8)):
        y = rng.choice(years)
        yield {"id": f"wo-count-{i}", "text": rng.choice(count_t).format(x=_ref(rng, a), y=y),
               "expected": _wo_count(kg, a["id"], datetime(y, 1, 1), datetime(y + 1, 1, 1)), "check": "exact_count",
               "group": "work_orders", "expect_tools": ["count_work_orders_by_type"]}
    type_t = ["How many {t} work orders did {x} have in {p}?", "how many {t} work orders for {x} in {p}"]
    for i, a in enumerate(_pick(rng, assets, 6)):
        wtype = ["corrective", "preventive", "inspection"][i % 3]
        if i % 2:
            y = rng.choice(years)
            label, start, end = str(y), datetime(y, 1, 1), datetime(y + 1, 1, 1)
        else:
            start = datetime(rng.choice(years), rng.randint(1, 12), 1)
            end = _next_month(start)
            label = start.strftime("%B %Y")
        yield {"id": f"wo-type-{i}", "text": rng.choice(type_t).format(t=wtype, x=_ref(rng, a), p=label),
               "expected": _wo_count(kg, a["id"], start, end, wtype), "check": "exact_count", "group": "work_orders"}
    for i, a in enumerate(_pick(rng, assets, 5)):
        row = kg.query("SELECT id FROM work_orders WHERE asset_id = ? AND type = 'corrective' "
                       "ORDER BY reported_at DESC, id DESC LIMIT 1", [a["id"]])
        if not row:
            continue
        text = rng.choice(["What was the most recent corrective work order on {x}?",
                           "Show the latest corrective work order of {x}."]).format(x=_ref(rng, a))
        yield {"id": f"wo-latest-{i}", "text": text, "expected": row[0]["id"], "check": "exact",
               "group": "work_orders", "expect_tools": ["latest_work_order"]}
    for i, a in enumerate(_pick(rng, assets, 5)):
        start = datetime(years[-1], rng.randint(1, 12), 1)
        end = _next_month(start)
        ids = [r["id"] for r in kg.query("SELECT id FROM work_orders WHERE asset_id = ? AND reported_at >= ? "
                                         "AND reported_at < ? ORDER BY id", [a["id"], start, end])]
        label = rng.choice([start.strftime("%B %Y"), start.strftime("%Y-%m")])
        yield {"id": f"wo-list-{i}", "text": f"List the work orders of {_ref(rng, a)} in {label}.", "expected": ids,
               "check": "set_equal", "group": "work_orders"}
    for i, a in enumerate(_pick(rng, assets, 4)):
        y = rng.choice(years)
        n = _wo_count(kg, a["id"], datetime(y, 1, 1), datetime(y + 1, 1, 1), "corrective")
        yield {"id": f"wo-yn-{i}", "text": f"Did {_ref(rng, a)} have any corrective work orders in {y}?",
               "expected": n > 0, "check": "yes_no", "group": "yes_no"}
    for i, a in enumerate(_pick(rng, assets, 3)):
        y = rng.choice(years)
        rows = kg.query("SELECT type, count(*) AS n FROM work_orders WHERE asset_id = ? AND reported_at >= ? AND "
                        "reported_at < ? GROUP BY type", [a["id"], datetime(y, 1, 1), datetime(y + 1, 1, 1)])
        yield {"id": f"wo-bytype-{i}", "text": f"Break down the work orders of {_ref(rng, a)} in {y} by type.",
               "expected": {r["type"]: int(r["n"]) for r in rows}, "check": "exact", "group": "work_orders"}


def _sensor(kg: KnowledgeStore, rng: random.Random) -> dict[str, Any]:
    rows = kg.query("SELECT id, props->>'type' AS type, props->>'asset_id' AS asset FROM nodes WHERE kind = 'sensor' "
                    "ORDER BY id")
    return rng.choice(rows)


def _stat(kg: KnowledgeStore, sid: str, start: datetime | None, end: datetime | None, agg: str) -> float | None:
    if agg == "latest":
        v = kg.scalar("SELECT value FROM readings WHERE sensor_id = ? AND value IS NOT NULL ORDER BY ts DESC LIMIT 1",
                      [sid])
    else:
        v = kg.scalar(f"SELECT {agg}(value) FROM readings WHERE sensor_id = ? AND ts >= ? AND ts < ?", [sid, start, end])
    return None if v is None else round(float(v), 3)


def _months(first: datetime, last: datetime) -> list[datetime]:
    out, m = [], datetime(first.year, first.month, 1)
    while m <= last:
        out.append(m)
        m = datetime(m.year + (m.month == 12), m.month % 12 + 1, 1)
    return out


def _next_month(m: datetime) -> datetime:
    return datetime(m.year + (m.month == 12), m.month % 12 + 1, 1)


def _reading_cases(kg: KnowledgeStore, rng: random.Random, assets: list[dict[str, Any]]) -> Iterator[Case]:
    words = {"avg": ["mean", "average"], "max": ["maximum", "highest", "peak"], "min": ["minimum", "lowest"]}
    first, last = kg.query("SELECT min(ts) AS a, max(ts) AS b FROM readings")[0].values()
    if first is None:
        return
    months = _months(first, last)
    days = max((last - first).days - 8, 1)
    for i in range(14):
        s = _sensor(kg, rng)
        agg = ["avg", "max", "min"][i % 3]
        form = i % 4
        if form in (0, 3):
            start = rng.choice(months)
            end = _next_month(start)
            label = start.strftime("%B %Y") if form == 0 else f"in {start:%Y-%m}"
        elif form == 1:
            start = datetime(first.year, first.month, first.day) + timedelta(days=rng.randint(0, days))
            end = start + timedelta(days=1)
            label = f"on {start:%Y-%m-%d}"
        else:
            start = datetime(first.year, first.month, first.day) + timedelta(days=rng.randint(0, days))
            end = start + timedelta(days=7)
            label = f"during the week of {start:%Y-%m-%d}"
        value = _stat(kg, s["id"], start, end, agg)
        if value is None:
            continue
        w = rng.choice(words[agg])
        asset = next(a for a in assets if a["id"] == s["asset"])
        text = rng.choice([f"What was the {w} {s['type']} of {_ref(rng, asset)} {label}?",
                           f"{w} of {s['id']} {label}?"])
        if form == 0:
            text = text.replace(f" {label}", f" in {label}")
        yield {"id": f"stat-{i}", "text": text, "expected": value, "check": "number_within:0.1%", "group": "readings",
               "expect_tools": ["sensor_stats"]}
    for i in range(4):
        s = _sensor(kg, rng)
        yield {"id": f"latest-{i}", "text": rng.choice([f"What is the latest value of {s['id']}?",
                                                         f"current {s['type']} reading of {s['asset']}"]),
               "expected": _stat(kg, s["id"], None, None, "latest"), "check": "number_within:0.1%", "group": "readings"}
    for i in range(4):
        s = _sensor(kg, rng)
        start = rng.choice(months)
        end = _next_month(start)
        peak = _stat(kg, s["id"], start, end, "max")
        if peak is None:
            continue
        thr = round(peak * (0.97 if i % 2 == 0 else 1.05), 2)
        yield {"id": f"exceed-{i}", "text": f"Did {s['id']} exceed {thr} in {start:%B %Y}?", "expected": peak > thr,
               "check": "yes_no", "group": "yes_no"}


def _structure_cases(kg: KnowledgeStore, rng: random.Random, assets: list[dict[str, Any]]) -> Iterator[Case]:
    for i, a in enumerate(_pick(rng, assets, 4)):
        ids = [r["dst"] for r in kg.query("SELECT dst FROM edges WHERE src = ? AND rel = 'has_sensor'", [a["id"]])]
        if i % 2:
            yield {"id": f"sensors-count-{i}", "text": f"How many sensors does {_ref(rng, a)} have?",
                   "expected": len(ids), "check": "exact_count", "group": "sensors"}
        else:
            yield {"id": f"sensors-list-{i}", "text": f"Which sensors does {_ref(rng, a)} have?", "expected": ids,
                   "check": "set_equal", "group": "sensors"}
    for i, a in enumerate(_pick(rng, assets, 3)):
        types = {r["t"] for r in kg.query("SELECT n.props->>'type' AS t FROM edges e JOIN nodes n ON n.id = e.dst "
                                          "WHERE e.src = ? AND e.rel = 'has_sensor'", [a["id"]])}
        t = rng.choice(["vibration", "pressure", "flow", "speed", "temperature"])
        yield {"id": f"sensors-yn-{i}", "text": f"Does {a['id']} have a {t} sensor?", "expected": t in types,
               "check": "yes_no", "group": "yes_no"}
    lines = [r["id"] for r in kg.query("SELECT id FROM nodes WHERE kind = 'line' ORDER BY id")][:3]
    for i, line in enumerate(lines):
        ids = [r["src"] for r in kg.query("SELECT e.src FROM edges e JOIN nodes n ON n.id = e.src WHERE e.dst = ? "
                                          "AND e.rel = 'part_of' AND n.kind = 'asset'", [line])]
        yield {"id": f"line-{i}", "text": f"Which assets are on line {line}?", "expected": ids, "check": "set_equal",
               "group": "structure"}


def generate(store: KnowledgeStore, *, seed: int = 0) -> list[Case]:
    """All chat cases for the plant in ``store`` (deterministic for a seed).

    Args:
        store: The knowledge graph (read-only).
        seed: Picks entities, periods and phrasings.
    """
    rng = random.Random(seed)
    assets = _assets(store)
    cases: list[Case] = []
    for gen in (_fm_cases, _sensor_fm_cases, _impact_cases, _wo_cases, _reading_cases, _structure_cases):
        cases.extend(gen(store, rng, assets))
    return cases
