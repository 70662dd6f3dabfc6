"""Diagnosis: anomaly detection, failure-mode ranking from the KG, prognostics, evaluation.

Modules: ``detectors`` (univariate), ``multivariate`` (PCA T^2/SPE), ``engine`` (per-asset
detection over the KG), ``ranking`` (naive Bayes over FMEA symptoms), ``prognostics`` (days to
threshold), ``alerts`` (idempotent alert storage), ``service`` (KG-level functions),
``toolset`` (the ``@tool`` functions), ``metrics`` (the diagnosis evaluation).
"""

from __future__ import annotations

from tools.diagnosis.alerts import AlertWrite, alert_id, store_alerts, stored_alerts
from tools.diagnosis.detectors import DetectorConfig
from tools.diagnosis.engine import DEFAULT_CONFIG, detect_asset, detect_frame
from tools.diagnosis.models import (
    Anomaly,
    AnomalyReport,
    AssetAnomalySummary,
    AssetsWithAnomalies,
    DaysToThreshold,
    DiagnosisResult,
    Evidence,
    FailureModeCandidate,
    FailureModeRanking,
    Remedy,
    RemedyList,
)
from tools.diagnosis.prognostics import time_to_threshold
from tools.diagnosis.ranking import rank_modes, rank_with_kg
from tools.diagnosis.service import assets_with_anomalies_in, diagnose, prognose, remedies_of_mode
from tools.diagnosis.toolset import (
    assets_with_anomalies,
    days_to_threshold,
    detect_anomalies,
    diagnose_asset,
    rank_failure_modes,
    remedies_for,
)

#: The ``@tool`` functions of this package (the registry reads this list: they are defined in
#: ``tools.diagnosis.toolset``, so ``add_module``'s ``__module__`` check alone would skip them).
TOOLS = [detect_anomalies, rank_failure_modes, remedies_for, days_to_threshold, diagnose_asset, assets_with_anomalies]

__all__ = [
    "DEFAULT_CONFIG",
    "TOOLS",
    "AlertWrite",
    "Anomaly",
    "AnomalyReport",
    "AssetAnomalySummary",
    "AssetsWithAnomalies",
    "DaysToThreshold",
    "DetectorConfig",
    "DiagnosisResult",
    "Evidence",
    "FailureModeCandidate",
    "FailureModeRanking",
    "Remedy",
    "RemedyList",
    "alert_id",
    "assets_with_anomalies",
    "assets_with_anomalies_in",
    "days_to_threshold",
    "detect_anomalies",
    "detect_asset",
    "detect_frame",
    "diagnose",
    "diagnose_asset",
    "prognose",
    "rank_failure_modes",
    "rank_modes",
    "rank_with_kg",
    "remedies_for",
    "remedies_of_mode",
    "store_alerts",
    "stored_alerts",
    "time_to_threshold",
]
