"""Entity lookup: by id, name or alias, fuzzy search, and linking mentions in free text."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from knowledge.graph.models import EntityMatch, EntityMention, Node
from tools.errors import ToolRetry, did_you_mean

if TYPE_CHECKING:
    from knowledge.store import KnowledgeStore

__all__ = ["find_entities", "get_node", "get_nodes", "link_entities", "normalize", "require_node"]

_NORM_SQL = "regexp_replace(regexp_replace(lower({x}), '[^a-z0-9]+', '', 'g'), '(^|[a-z])0+([0-9])', '\\1\\2', 'g')"
_LABELS_SQL = """
SELECT id, kind, name, id AS label, 'id' AS via FROM nodes {where}
UNION ALL SELECT id, kind, name, name, 'name' FROM nodes {where_and} name IS NOT NULL
UNION ALL SELECT id, kind, name, unnest(from_json(props->'aliases', '["VARCHAR"]')), 'alias'
    FROM nodes {where_and} json_type(props->'aliases') = 'ARRAY'
"""
_KIND_ORDER = ["asset", "line", "sensor", "site", "failure_mode", "asset_class", "product", "symptom", "remedy",
               "compute_node", "model", "component", "operation"]


def normalize(text: str) -> str:
    """Lower-case, drop separators and leading zeros of numbers: 'CNC-07' -> 'cnc7'."""
    s = re.sub(r"[^a-z0-9]+", "", text.lower())
    return re.sub(r"(^|[a-z])0+([0-9])", r"\1\2", s)


def _row_node(row: dict[str, Any]) -> Node:
    props = row.get("props")
    return Node(id=row["id"], kind=row["kind"], name=row.get("name"),
                props=json.loads(props) if isinstance(props, str) else (props or {}))


def get_node(store: KnowledgeStore, node_id: str) -> Node | None:
    """The node with exactly this id, or None."""
    rows = store.query("SELECT id, kind, name, props FROM nodes WHERE id = ?", [node_id])
    return _row_node(rows[0]) if rows else None


def get_nodes(store: KnowledgeStore, ids: Iterable[str]) -> dict[str, Node]:
    """Nodes by id for the given ids (missing ones are absent)."""
    ids = list(dict.fromkeys(ids))
    if not ids:
        return {}
    rows = store.query("SELECT id, kind, name, props FROM nodes WHERE id IN (SELECT unnest(?::VARCHAR[]))", [ids])
    return {r["id"]: _row_node(r) for r in rows}


def _kind_clause(kinds: Sequence[str] | None) -> tuple[str, str, list[Any]]:
    if not kinds:
        return "", "WHERE", []
    return "WHERE kind IN (SELECT unnest(?::VARCHAR[]))", "WHERE kind IN (SELECT unnest(?::VARCHAR[])) AND", [list(kinds)]


def require_node(store: KnowledgeStore, ref: str, *, kinds: Sequence[str] | None = None, what: str | None = None) -> Node:
    """Resolve an id, a case-insensitive id, or an exact name/alias to one node of the given kinds.

    Raises:
        ToolRetry: Unknown or ambiguous reference; the message lists the closest valid ids.
    """
    what = what or (kinds[0].replace("_", " ") if kinds and len(kinds) == 1 else "node")
    node = get_node(store, ref)
    if node and (not kinds or node.kind in kinds):
        return node
    where, where_and, params = _kind_clause(kinds)
    sql = f"SELECT DISTINCT id FROM ({_LABELS_SQL.format(where=where, where_and=where_and)}) WHERE lower(label) = lower(?)"
    hits = [r["id"] for r in store.query(sql, params * 3 + [ref.strip()])]
    if not hits:
        norm = _NORM_SQL.format(x="label")
        sql = f"SELECT DISTINCT id FROM ({_LABELS_SQL.format(where=where, where_and=where_and)}) WHERE {norm} = ?"
        hits = [r["id"] for r in store.query(sql, params * 3 + [normalize(ref)])]
    if len(hits) == 1:
        found = get_node(store, hits[0])
        assert found is not None
        return found
    if len(hits) > 1:
        raise ToolRetry(f"{what.capitalize()} {ref!r} is ambiguous; use one of: {', '.join(map(repr, sorted(hits)[:10]))}")
    ids = [r["id"] for r in store.query(f"SELECT id FROM nodes {where}", params)]
    raise ToolRetry(did_you_mean(ref, ids, what=what))


def find_entities(
    store: KnowledgeStore, text: str, *, kinds: Sequence[str] | None = None, limit: int = 10, min_score: float = 0.55
) -> list[EntityMatch]:
    """Nodes whose id, name or alias matches ``text`` exactly, after normalisation, by containment or fuzzily.

    Scores: exact id 1.0; exact name 0.97; exact alias 0.96; normalised equality ('cnc 7' ~ 'CNC-07') 0.93;
    containment 0.6-0.9 by length ratio; otherwise 0.85 x Jaro-Winkler similarity of normalised forms.
    """
    q = text.strip()
    if not q:
        return []
    where, where_and, params = _kind_clause(kinds)
    norm = _NORM_SQL.format(x="label")
    sql = f"""
    WITH labels AS ({_LABELS_SQL.format(where=where, where_and=where_and)}),
    scored AS (
        SELECT id, kind, name, label, via,
            CASE
                WHEN lower(label) = lower($q) THEN (CASE via WHEN 'id' THEN 1.0 WHEN 'name' THEN 0.97 ELSE 0.96 END)
                WHEN {norm} = $n AND $n <> '' THEN 0.93
                WHEN length($q) >= 2 AND contains(lower(label), lower($q))
                    THEN 0.6 + 0.3 * length($q) / length(label)
                ELSE 0.85 * jaro_winkler_similarity({norm}, $n)
            END AS score,
            CASE
                WHEN lower(label) = lower($q) THEN via
                WHEN {norm} = $n THEN 'normalized'
                WHEN length($q) >= 2 AND contains(lower(label), lower($q)) THEN 'contains'
                ELSE 'fuzzy'
            END AS how
        FROM labels WHERE label IS NOT NULL
    )
    SELECT id, kind, name, arg_max(label, score) AS matched, arg_max(how, score) AS via, max(score) AS score
    FROM scored GROUP BY id, kind, name HAVING max(score) >= $min
    """
    named = {"q": q, "n": normalize(q), "min": min_score}
    if params:
        sql = sql.replace("?::VARCHAR[]", "$kinds::VARCHAR[]")
        named["kinds"] = params[0]
    cur = store.cursor()
    try:
        rel = cur.execute(sql, named)
        cols = [d[0] for d in rel.description]
        rows = [dict(zip(cols, r, strict=True)) for r in rel.fetchall()]
    finally:
        cur.close()
    order = {k: i for i, k in enumerate(_KIND_ORDER)}
    rows.sort(key=lambda r: (-round(r["score"], 6), order.get(r["kind"], 99), r["id"]))
    return [EntityMatch(id=r["id"], kind=r["kind"], name=r["name"], score=round(float(r["score"]), 4),
                        matched=r["matched"], via=r["via"]) for r in rows[:limit]]


_TOKEN = re.compile(r"[A-Za-z0-9]+(?:[-_./:][A-Za-z0-9]+)*")


def link_entities(
    store: KnowledgeStore, text: str, *, kinds: Sequence[str] | None = None, max_words: int = 5
) -> list[EntityMention]:
    """Find node mentions in a question: ids, names and aliases, tolerant to case, separators and zeros.

    Longest match wins, left to right ('CNC 7 vibration' is the sensor ``CNC-07.vibration``, not the asset).
    """
    where, where_and, params = _kind_clause(kinds)
    rows = store.query(_LABELS_SQL.format(where=where, where_and=where_and), params * 3)
    table: dict[str, tuple[str, str, str | None, str]] = {}
    rank = {"id": 0, "alias": 1, "name": 2}
    for r in rows:
        if not r["label"]:
            continue
        key = normalize(r["label"])
        if len(key) < 2 or key.isdigit():
            continue
        old = table.get(key)
        if old is None or rank[r["via"]] < rank[old[3]]:
            table[key] = (r["id"], r["kind"], r["name"], r["via"])
    tokens = [(m.start(), m.end(), m.group(0)) for m in _TOKEN.finditer(text)]
    out: list[EntityMention] = []
    i = 0
    while i < len(tokens):
        for n in range(min(max_words, len(tokens) - i), 0, -1):
            span = tokens[i : i + n]
            key = normalize("".join(t[2] for t in span))
            hit = table.get(key)
            if hit is None and n == 1 and "." in span[0][2]:
                hit = table.get(normalize(span[0][2].rstrip(".")))
            if hit:
                s, e = span[0][0], span[-1][1]
                out.append(EntityMention(id=hit[0], kind=hit[1], name=hit[2], text=text[s:e], start=s, end=e,
                                         via=hit[3]))  # type: ignore[arg-type]
                i += n
                break
        else:
            i += 1
    return out
