"""Result models of the diagnosis tools (pydantic, JSON-ready).

The CLI prints :meth:`DiagnosisResult.cli_dict`, the exact contract
``{"asset", "anomalies", "failure_modes", "days_to_threshold", "remedies"}``; the tools return the
richer models below.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = [
    "Anomaly",
    "AnomalyReport",
    "AssetAnomalySummary",
    "AssetsWithAnomalies",
    "DaysToThreshold",
    "DetectorName",
    "DiagnosisResult",
    "Evidence",
    "FailureModeCandidate",
    "FailureModeRanking",
    "Remedy",
    "RemedyList",
]

DetectorName = Literal["robust_z", "ewma", "cusum", "level_shift", "spike", "pca_t2", "pca_spe", "static_3sigma"]
Direction = Literal["up", "down"]
PrognosisStatus = Literal["ok", "already_exceeded", "not_enough_data", "no_significant_trend", "moving_away", "no_threshold"]


class Anomaly(BaseModel):
    """One anomaly episode on an asset (one sensor, or several for the multivariate detectors)."""

    asset: str
    sensor: str = Field(description="The sensor that drives the anomaly (largest contribution).")
    sensors: list[str] = Field(description="All sensors involved, largest contribution first.")
    start: datetime = Field(description="First time the statistic crossed its threshold (the alarm time).")
    end: datetime = Field(description="Last time the statistic was above the hysteresis (release) level.")
    score: float = Field(description="Peak statistic divided by its learned threshold (>= 1).")
    detector: DetectorName = Field(description="The detector that fired first.")
    detectors: list[DetectorName] = Field(description="Every detector that fired in this episode.")
    direction: Direction = Field(description="Whether the signal rose or fell against its healthy reference.")
    severity: Literal["warning", "alarm"]
    contributions: dict[str, float] = Field(default_factory=dict, description="Share of the anomaly per sensor.")
    symptom: str | None = Field(None, description="The KG symptom node it maps to, e.g. 'sym:vibration_up'.")
    ongoing: bool = Field(False, description="True when the episode lasts until the end of the window.")


class AnomalyReport(BaseModel):
    """Anomalies of one asset in a window, with the reference the thresholds were learned on."""

    asset: str
    since: datetime
    until: datetime
    reference_start: datetime
    reference_end: datetime
    bucket: str
    sensors: list[str]
    anomalies: list[Anomaly]
    message: str


class Remedy(BaseModel):
    """A remedy of a failure mode, with typical duration, parts and cost when the KG has them."""

    id: str
    name: str
    failure_mode: str
    duration_h: float | None = None
    parts: list[str] = Field(default_factory=list)
    cost: float | None = None


class RemedyList(BaseModel):
    """The remedies of one failure mode."""

    failure_mode: str
    name: str
    remedies: list[Remedy]


class Evidence(BaseModel):
    """Why a failure mode is (or is not) likely: human-readable facts from the KG and the data."""

    supporting: list[str] = Field(default_factory=list)
    against: list[str] = Field(default_factory=list)


class FailureModeCandidate(BaseModel):
    """A ranked failure mode with its posterior probability, evidence and explaining KG path."""

    id: str
    name: str
    code: str | None = None
    component: str | None = None
    severity: int | None = None
    probability: float
    prior: float
    evidence: Evidence
    path: list[str] = Field(description="asset -> sensor -> symptom -> failure mode -> remedy node ids.")
    remedies: list[Remedy] = Field(default_factory=list)


class FailureModeRanking(BaseModel):
    """Failure modes of an asset ranked from its anomalies (naive Bayes over FMEA symptoms)."""

    asset: str
    asset_class: str | None
    observed_symptoms: list[str]
    absent_symptoms: list[str]
    candidates: list[FailureModeCandidate]
    message: str


class DaysToThreshold(BaseModel):
    """Early warning: days until a drifting sensor reaches its alarm limit, with an interval."""

    asset: str
    sensor: str | None
    status: PrognosisStatus
    estimate: float | None = Field(None, description="Median days from `as_of` until the threshold.")
    low: float | None = Field(None, description="10th percentile of the days (bootstrap).")
    high: float | None = Field(None, description="90th percentile of the days (bootstrap).")
    threshold: float | None = None
    threshold_kind: Literal["alarm_high", "alarm_low", "normal_high", "normal_low"] | None = None
    model: Literal["linear", "exponential"] | None = None
    slope_per_day: float | None = None
    current_level: float | None = None
    n_days: int = 0
    as_of: datetime | None = None
    message: str


class DiagnosisResult(BaseModel):
    """Everything at once: anomalies, ranked failure modes, days to threshold, remedies."""

    asset: str
    since: datetime
    until: datetime
    anomalies: list[Anomaly]
    failure_modes: list[FailureModeCandidate]
    days_to_threshold: DaysToThreshold | None
    remedies: list[Remedy]
    message: str

    def cli_dict(self) -> dict[str, Any]:
        """The exact JSON contract of ``indagent diagnose ASSET --json``."""
        dtt = self.days_to_threshold
        return {
            "asset": self.asset,
            "anomalies": [
                {"sensor": a.sensor, "start": a.start.isoformat(), "end": a.end.isoformat(),
                 "score": round(a.score, 3), "detector": a.detector}
                for a in self.anomalies
            ],
            "failure_modes": [
                {"id": c.id, "name": c.name, "probability": round(c.probability, 4),
                 "evidence": c.evidence.model_dump(), "path": c.path}
                for c in self.failure_modes
            ],
            "days_to_threshold": (
                {"estimate": dtt.estimate, "low": dtt.low, "high": dtt.high}
                if dtt is not None and dtt.estimate is not None
                else None
            ),
            "remedies": [r.model_dump() for r in self.remedies],
        }


class AssetAnomalySummary(BaseModel):
    """One asset that had anomalies in a period."""

    asset: str
    name: str | None
    anomalies: int
    sensors: list[str]
    first_start: datetime
    last_end: datetime
    max_score: float


class AssetsWithAnomalies(BaseModel):
    """Assets with anomalies in a period, most severe first."""

    start: datetime
    end: datetime
    scanned: int
    assets: list[AssetAnomalySummary]
    message: str
