"""Import mappings: our fields per kind, common source column names, and the optional YAML mapping file.

A mapping YAML renames source columns to our fields, sets constants and gives formats::

    columns:              # source column -> our field
      WO Number: id
      Equipment: asset_id
      Malfunction start: reported_at
    constants:            # our field -> value for every row
      status: closed
    timestamp_format: "%d/%m/%Y %H:%M"   # or a list; tried before the built-in formats
    delimiter: ";"        # default: sniffed
    decimal: ","          # decimal separator of numbers (default ".")
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tools.errors import IndagentError

__all__ = ["FIELDS", "KINDS", "FieldSpec", "ImportFileError", "Kind", "Mapping", "load_mapping", "norm_col"]

Kind = Literal["assets", "sensors", "readings", "work_orders", "failure_modes", "alerts", "edges"]
KINDS: tuple[str, ...] = ("assets", "sensors", "readings", "work_orders", "failure_modes", "alerts", "edges")
FieldType = Literal["text", "ts", "num", "int", "list"]


class ImportFileError(IndagentError):
    """The file (or mapping) cannot be imported at all: wrong delimiter, missing column, garbage..."""


class FieldSpec(BaseModel):
    """One of our fields: its type, whether it is required, and source column names recognised for it."""

    type: FieldType = "text"
    required: bool = False
    names: tuple[str, ...] = ()


def _f(t: FieldType = "text", *names: str, req: bool = False) -> FieldSpec:
    return FieldSpec(type=t, required=req, names=names)


_ASSET_NAMES = ("asset_id", "asset", "equipment_id", "equipment", "equipment_no", "equipment_number", "machine",
                "machine_id", "asset_tag", "functional_location", "unit")
FIELDS: dict[str, dict[str, FieldSpec]] = {
    "assets": {
        "id": _f("text", "id", *_ASSET_NAMES, "tag", req=True),
        "name": _f("text", "name", "asset_name", "description", "equipment_name", "title"),
        "class": _f("text", "class", "asset_class", "type", "asset_type", "equipment_type", "category"),
        "line": _f("text", "line", "line_id", "production_line", "area"),
        "site": _f("text", "site", "plant", "site_id"),
        "manufacturer": _f("text", "manufacturer", "vendor", "make", "oem"),
        "install_year": _f("int", "install_year", "year_installed", "installed", "commissioned"),
        "rated_power_kw": _f("num", "rated_power_kw", "power_kw", "rated_power"),
        "aliases": _f("list", "aliases", "alias", "other_names"),
        "feeds": _f("list", "feeds", "downstream", "feeds_to", "supplies"),
    },
    "sensors": {
        "id": _f("text", "id", "sensor_id", "sensor", "tag", "tagname", "point", "signal"),
        "asset_id": _f("text", *_ASSET_NAMES, req=True),
        "type": _f("text", "type", "sensor_type", "measurement", "quantity", "kind"),
        "unit": _f("text", "unit", "units", "uom", "eng_unit"),
        "name": _f("text", "name", "description", "sensor_name"),
        "normal_low": _f("num", "normal_low", "low", "min_normal", "lo"),
        "normal_high": _f("num", "normal_high", "high", "max_normal", "hi"),
        "alarm_low": _f("num", "alarm_low", "low_alarm", "lo_alarm", "ll"),
        "alarm_high": _f("num", "alarm_high", "high_alarm", "hi_alarm", "hh"),
    },
    "readings": {
        "sensor_id": _f("text", "sensor_id", "sensor", "tag", "tagname", "tag_name", "point", "signal", "name",
                        req=True),
        "ts": _f("ts", "ts", "timestamp", "time", "datetime", "date_time", "date", "time_stamp", req=True),
        "value": _f("num", "value", "val", "reading", "measurement", "pv", req=True),
    },
    "work_orders": {
        "id": _f("text", "id", "wo", "wo_id", "work_order", "work_order_id", "wonum", "wo_number", "order",
                 "order_id", "order_number", "number", req=True),
        "asset_id": _f("text", *_ASSET_NAMES, req=True),
        "description": _f("text", "description", "desc", "text", "short_text", "problem", "notes", "summary"),
        "type": _f("text", "type", "wo_type", "order_type", "work_type", "maintenance_type", "category", "activity"),
        "failure_code": _f("text", "failure_code", "code", "event_code", "problem_code", "fault_code", "damage_code",
                           "cause_code"),
        "failure_mode_id": _f("text", "failure_mode_id", "failure_mode"),
        "component": _f("text", "component", "part", "object_part", "subassembly"),
        "reported_at": _f("ts", "reported_at", "reported", "reported_date", "created", "created_at", "date",
                          "open_date", "notification_date", "malfunction_start"),
        "started_at": _f("ts", "started_at", "start", "started", "start_date", "actual_start"),
        "finished_at": _f("ts", "finished_at", "finish", "finished", "end", "end_date", "completed", "completion_date",
                          "actual_finish", "closed_at", "closed"),
        "status": _f("text", "status", "state", "wo_status"),
    },
    "failure_modes": {
        "asset_class": _f("text", "asset_class", "class", "equipment_type", "asset_type", req=True),
        "failure_mode": _f("text", "failure_mode", "mode", "failure", "name", req=True),
        "id": _f("text", "id", "failure_mode_id"),
        "code": _f("text", "code", "failure_code"),
        "component": _f("text", "component", "part"),
        "severity": _f("int", "severity", "sev", "s"),
        "occurrence": _f("int", "occurrence", "occ", "o"),
        "detection": _f("int", "detection", "det", "d"),
        "symptom": _f("text", "symptom", "symptoms"),
        "sensor_type": _f("text", "sensor_type", "sensor", "measurement"),
        "direction": _f("text", "direction", "trend"),
        "likelihood": _f("num", "likelihood", "probability", "weight"),
        "remedy": _f("text", "remedy", "action", "fix", "repair"),
        "remedy_duration_h": _f("num", "remedy_duration_h", "duration_h", "repair_hours", "duration"),
        "parts": _f("list", "parts", "spare_parts"),
        "cost": _f("num", "cost", "remedy_cost"),
    },
    "alerts": {
        "id": _f("text", "id", "alert_id", "alarm_id"),
        "asset_id": _f("text", *_ASSET_NAMES, req=True),
        "sensor_ids": _f("list", "sensor_ids", "sensors", "sensor_id", "sensor", "tag"),
        "start_ts": _f("ts", "start_ts", "start", "timestamp", "ts", "time", "raised_at", "date", req=True),
        "end_ts": _f("ts", "end_ts", "end", "cleared_at", "cleared"),
        "score": _f("num", "score", "value"),
        "detector": _f("text", "detector", "source", "rule"),
        "severity": _f("text", "severity", "priority", "level"),
        "status": _f("text", "status", "state"),
    },
    "edges": {
        "src": _f("text", "src", "source", "from", "from_id", req=True),
        "dst": _f("text", "dst", "target", "to", "to_id", req=True),
        "rel": _f("text", "rel", "relation", "type", "edge_type", req=True),
    },
}


def norm_col(name: str) -> str:
    """Normalise a column name for matching: lower snake case, units in parentheses dropped."""
    name = re.sub(r"\(.*?\)|\[.*?\]", " ", name)
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


class Mapping(BaseModel):
    """A parsed mapping YAML."""

    model_config = ConfigDict(extra="forbid")

    kind: str | None = None
    columns: dict[str, str] = Field(default_factory=dict)
    constants: dict[str, Any] = Field(default_factory=dict)
    timestamp_format: str | list[str] | None = None
    delimiter: str | None = None
    decimal: str = "."
    asset: str | None = None

    @property
    def formats(self) -> list[str]:
        """Timestamp formats to try first."""
        if self.timestamp_format is None:
            return []
        return [self.timestamp_format] if isinstance(self.timestamp_format, str) else list(self.timestamp_format)

    def check(self, kind: str) -> None:
        """Refuse fields that the kind does not have."""
        valid = set(FIELDS[kind])
        for what, names in (("columns", self.columns.values()), ("constants", self.constants.keys())):
            bad = sorted(set(names) - valid)
            if bad:
                raise ImportFileError(f"mapping {what}: unknown field(s) {', '.join(map(repr, bad))} for kind "
                                      f"{kind!r}; valid: {', '.join(sorted(valid))}")
        if len(self.decimal) != 1:
            raise ImportFileError(f"mapping decimal must be one character, got {self.decimal!r}")


def load_mapping(path: str | Path | None) -> Mapping:
    """Read a mapping YAML (an empty mapping when ``path`` is None)."""
    if path is None:
        return Mapping()
    p = Path(path)
    if not p.is_file():
        raise ImportFileError(f"mapping file {p} not found")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ImportFileError(f"mapping {p} is not valid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise ImportFileError(f"mapping {p} must be a YAML mapping with keys columns/constants/timestamp_format")
    try:
        return Mapping.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(x) for x in first["loc"])
        raise ImportFileError(f"mapping {p}: {loc}: {first['msg']}") from None
