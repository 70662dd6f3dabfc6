"""Shared analysis of a question: linked KG entities, asset classes, sensor types, period, measure.

Computed once per (store, text) and reused by every intent's ``match``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING

from agents.intents.periods import Period, parse_period

if TYPE_CHECKING:
    from agents.context import AgentContext
    from knowledge.store import KnowledgeStore

__all__ = ["CLASS_WORDS", "SENSOR_WORDS", "Analysis", "analyze", "has", "reference_now"]

#: words -> asset class
CLASS_WORDS: dict[str, str] = {
    "chiller": "chiller", "chillers": "chiller",
    "compressor": "compressor", "compressors": "compressor", "air compressor": "compressor",
    "pump": "pump", "pumps": "pump",
    "cnc": "cnc", "cnc machine": "cnc", "cnc machines": "cnc", "machining center": "cnc", "machining centers": "cnc",
    "press": "press", "presses": "press", "hydraulic press": "press",
    "robot": "robot", "robots": "robot",
    "conveyor": "conveyor", "conveyors": "conveyor",
}
#: words -> sensor type
SENSOR_WORDS: dict[str, str] = {
    "temperature": "temperature", "temp": "temperature", "temperatures": "temperature",
    "vibration": "vibration", "vibrations": "vibration", "vib": "vibration",
    "current": "current", "amps": "current", "motor current": "current",
    "pressure": "pressure", "pressures": "pressure",
    "flow": "flow", "flow rate": "flow", "flowrate": "flow",
    "power": "power", "power draw": "power", "kw": "power", "energy": "power",
    "speed": "speed", "rpm": "speed",
}


@dataclass
class Analysis:
    """What a question mentions."""

    text: str
    low: str
    assets: list[str] = field(default_factory=list)
    sensors: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    failure_modes: list[str] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    sensor_types: list[str] = field(default_factory=list)
    period: Period | None = None

    @property
    def asset(self) -> str | None:
        """The first asset mentioned (or the asset of the first sensor)."""
        if self.assets:
            return self.assets[0]
        if self.sensors:
            return self.sensors[0].split(".")[0]
        return None

    @property
    def sensor_type(self) -> str | None:
        """The first sensor type mentioned (from a sensor id or a word)."""
        if self.sensors:
            return self.sensors[0].split(".", 1)[1]
        return self.sensor_types[0] if self.sensor_types else None


def has(low: str, *words: str) -> bool:
    """Whether any of the words/phrases occurs as a whole word in ``low``."""
    return any(re.search(rf"(?<![a-z0-9]){re.escape(w)}(?![a-z0-9])", low) for w in words)


def reference_now(ctx: AgentContext) -> datetime:
    """'Now' for relative periods: the context clock, else the wall clock (naive UTC)."""
    return ctx.now or datetime.now(UTC).replace(tzinfo=None)


def analyze(text: str, ctx: AgentContext) -> Analysis:
    """Analyse a question against the context's knowledge graph (cached per store, text and minute).

    Every intent's ``match`` asks for the analysis of the same text; the clock is truncated to the
    minute so that those calls share one result instead of re-linking entities each time.
    """
    return _analyze(text, ctx.kg, reference_now(ctx).replace(second=0, microsecond=0))


@lru_cache(maxsize=256)
def _analyze(text: str, kg: KnowledgeStore | None, now: datetime) -> Analysis:
    low = text.lower()
    a = Analysis(text=text, low=low, period=parse_period(text, now=now))
    # classes and sensor types by words (longest phrases first)
    for words, out in ((CLASS_WORDS, a.classes), (SENSOR_WORDS, a.sensor_types)):
        for w in sorted(words, key=len, reverse=True):
            if has(low, w) and words[w] not in out:
                out.append(words[w])
    if kg is None:
        return a
    from knowledge.graph import link_entities

    masked = _mask_dates(text)
    for m in link_entities(kg, masked):
        bucket = {"asset": a.assets, "sensor": a.sensors, "line": a.lines, "failure_mode": a.failure_modes}.get(m.kind)
        if bucket is not None and m.id not in bucket:
            bucket.append(m.id)
        elif m.kind == "asset_class" and m.id.removeprefix("class:") not in a.classes:
            a.classes.append(m.id.removeprefix("class:"))
    if "current" in a.sensor_types and len(a.sensor_types) > 1:  # "current vibration": current = now
        a.sensor_types.remove("current")
    owners = a.assets + [s.split(".")[0] for s in a.sensors]
    if owners and a.classes:  # an asset named by a class word ("Chiller 2", "CNC-07") is not a class question
        owner_classes = {r["cls"] for r in kg.query(
            "SELECT props->>'class' AS cls FROM nodes WHERE id IN (SELECT unnest(?::VARCHAR[]))", [owners])}
        a.classes = [c for c in a.classes if c not in owner_classes]
    return a


def _mask_dates(text: str) -> str:
    """Blank out dates and years so '2024-06-01' is not linked as an id."""
    return re.sub(r"\b\d{4}-\d{2}(?:-\d{2})?(?:[ T]\d{2}:\d{2}(?::\d{2})?)?\b|\b(?:19|20)\d{2}\b", " ", text)

