"""Generate diagnosis question cases from the demo's ground-truth fault table (never typed by hand).

For each injected fault the clock is set inside the fault (a few days before the failure for
gradual faults, just after onset for abrupt ones) and the agent is asked what is wrong and what
the most likely failure mode is; fault-free assets at the same time are asked too (no alarm).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from knowledge.store import KnowledgeStore

__all__ = ["generate"]


def generate(store: KnowledgeStore, *, healthy_checks: int = 4) -> list[dict[str, Any]]:
    """Cases for every fault in ``fault_truth`` plus some fault-free assets.

    Args:
        store: The knowledge graph (read-only).
        healthy_checks: How many fault-free assets to ask about.
    """
    faults = store.query("SELECT f.id, f.asset_id, f.kind, f.onset_ts, f.failure_ts, n.name AS fm_name "
                         "FROM fault_truth f JOIN nodes n ON n.id = f.failure_mode_id ORDER BY f.onset_ts")
    faulty = {f["asset_id"] for f in faults}
    healthy = [r["id"] for r in store.query("SELECT id FROM nodes WHERE kind = 'asset' ORDER BY id")
               if r["id"] not in faulty]
    cases: list[dict[str, Any]] = []
    for f in faults:
        now = f["failure_ts"] - timedelta(days=3) if f["kind"] == "gradual" else f["failure_ts"]
        if now <= f["onset_ts"]:
            now = f["failure_ts"]
        setup = {"now": now.isoformat()}
        cases.append({"id": f"{f['id']}-wrong", "text": f"Is anything wrong with {f['asset_id']}?", "expected": True,
                      "check": "yes_no", "setup": setup, "group": "detection", "expect_tools": ["diagnose_asset"]})
        cases.append({"id": f"{f['id']}-top1", "text": f"What is the most likely failure mode of {f['asset_id']}?",
                      "expected": f["fm_name"], "check": "exact", "setup": setup, "group": "top1",
                      "expect_tools": ["rank_failure_modes"], "metadata": {"kind": f["kind"]}})
    for i, f in enumerate(faults[:healthy_checks]):
        asset = healthy[(i * 7) % len(healthy)]
        now = f["failure_ts"] - timedelta(days=3)
        cases.append({"id": f"healthy-{i}", "text": f"Is anything wrong with {asset}?", "expected": False,
                      "check": "yes_no", "setup": {"now": now.isoformat()}, "group": "no_false_alarm"})
    return cases
