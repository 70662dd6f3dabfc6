"""Realistic, seeded three-tier placement scenarios (devices on lines, edge servers, cloud regions).

Hardware figures are typical effective (not peak) numbers: a PLC does ~0.2 GFLOP/s with 512 KB,
a Jetson-class box ~20 TFLOP/s at 10-40 W, an edge GPU server ~120 TFLOP/s with 512 GB, a cloud
GPU pool ~4 PFLOP/s. Grid carbon intensities follow the published annual means of the regions
(hydro north ~35 g/kWh, coal-heavy east Asia ~560 g/kWh) with a solar dip at noon and an evening
peak. Workload mix: control loops (< 5 ms, must stay on site), vision QC, anomaly models, LLM
assistants (sovereign data), and deferrable batch jobs (retraining, analytics).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from tools.placement.model import DeferWindow, Link, Node, Scenario, Workload

__all__ = ["PROFILES", "REGIONS", "Profile", "generate_scenario", "hourly_intensity"]

Profile = Literal["factory", "campus", "national"]
PROFILES: tuple[str, ...] = ("factory", "campus", "national")

#: region -> (mean gCO2/kWh, solar dip share, evening peak share)
REGIONS: dict[str, tuple[float, float, float]] = {
    "eu-north": (35.0, 0.05, 0.05),
    "eu-west": (280.0, 0.35, 0.15),
    "eu-central": (380.0, 0.30, 0.12),
    "us-east": (390.0, 0.20, 0.10),
    "ap-east": (560.0, 0.15, 0.08),
}
#: one-way WAN latency between region groups (ms)
_WAN_MS = {"same": 8.0, "eu": 22.0, "far": 85.0}


def hourly_intensity(region: str, horizon_h: int, rng: np.random.Generator) -> list[float]:
    """Hourly grid intensity: a solar dip around 13:00 and an evening peak around 19:00."""
    mean, solar, evening = REGIONS[region]
    out = []
    for h in range(horizon_h):
        hod = h % 24
        sun = max(0.0, math.sin(math.pi * (hod - 6) / 14)) if 6 <= hod <= 20 else 0.0
        eve = math.exp(-((hod - 19) ** 2) / 4.0)
        val = mean * (1.0 - solar * sun + evening * eve) * float(rng.normal(1.0, 0.03))
        out.append(round(max(5.0, val), 1))
    return out


def _wan(a: str, b: str) -> float:
    if a == b:
        return _WAN_MS["same"]
    if a.startswith("eu") and b.startswith("eu"):
        return _WAN_MS["eu"]
    return _WAN_MS["far"]


_DEVICES = (  # name, weight, tflops, mem_gb, idle_w, peak_w, accelerator
    ("plc", 0.45, 0.0002, 0.0005, 0.05, 0.3, None),
    ("mcu-ai", 0.15, 0.001, 0.008, 0.1, 1.0, "npu"),
    ("ipc", 0.25, 0.5, 16.0, 15.0, 60.0, None),
    ("jetson", 0.15, 20.0, 16.0, 10.0, 40.0, "gpu"),
)


def _layout(profile: Profile, n: int) -> tuple[list[tuple[str, str]], list[str]]:
    """Sites (id, region) and cloud regions of a profile."""
    if profile == "factory":
        return [("S1", "eu-central")], ["eu-central", "eu-north", "us-east"]
    if profile == "campus":
        k = max(1, min(4, n // 25))
        return [(f"S{i + 1}", ("eu-central", "eu-west")[i % 2]) for i in range(k)], ["eu-central", "eu-north", "eu-west"]
    regs = ["eu-central", "eu-west", "eu-north", "us-east", "ap-east"]
    k = max(2, n // 40)
    return [(f"S{i + 1}", regs[i % 5]) for i in range(k)], regs


def generate_scenario(
    nodes: int, workloads: int, *, seed: int = 0, profile: Profile = "factory", horizon_h: int = 24
) -> Scenario:
    """Generate a realistic scenario with ``nodes`` nodes and ``workloads`` workloads.

    Args:
        nodes: Total nodes (>= 3): about 4 % cloud pools, 15 % edge servers, the rest devices.
        workloads: Number of workloads.
        seed: Random seed (same seed, same scenario).
        profile: factory (one site), campus (a few sites) or national (many sites, 5 regions).
        horizon_h: Planning horizon in hours.
    """
    if nodes < 3:
        raise ValueError(f"nodes must be >= 3 (one device, one edge server, one cloud pool); got {nodes}")
    if workloads < 0:
        raise ValueError(f"workloads must be >= 0; got {workloads}")
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; valid: {', '.join(PROFILES)}")
    rng = np.random.default_rng(seed)
    sites, clouds = _layout(profile, nodes)
    n_cloud = min(2 * len(clouds), max(round(0.04 * nodes), min(len(clouds), max(1, nodes // 8))))
    n_edge = max(len(sites), round(0.15 * nodes))
    n_edge = min(n_edge, nodes - n_cloud - 1)
    n_dev = nodes - n_cloud - n_edge
    site_region = dict(sites)
    grid = {r: hourly_intensity(r, horizon_h, rng) for r in REGIONS}
    out_nodes: list[Node] = []
    links: list[Link] = []
    edges_by_site: dict[str, list[str]] = {s: [] for s, _ in sites}
    devices_by_site: dict[str, list[str]] = {s: [] for s, _ in sites}
    for i in range(n_edge):
        site = sites[i % len(sites)][0]
        gpu = i % 3 != 2
        nid = f"{site}-EDGE-{len(edges_by_site[site]) + 1:02d}"
        out_nodes.append(Node(
            id=nid, tier="edge", site=site, region=site_region[site],
            compute_tflops=120.0 if gpu else 3.0, memory_gb=512.0 if gpu else 256.0,
            accelerator="gpu" if gpu else None, power_idle_w=250.0 if gpu else 150.0,
            power_peak_w=900.0 if gpu else 450.0, pue=round(float(rng.uniform(1.4, 1.8)), 2),
            carbon_g_per_kwh=float(np.mean(grid[site_region[site]])), carbon_hourly=grid[site_region[site]],
            cost_per_h=1.5 if gpu else 0.4, availability=0.999,
        ))
        for other in edges_by_site[site]:
            links.append(Link(src=nid, dst=other, latency_ms=0.2, bandwidth_mbps=10000.0))
        edges_by_site[site].append(nid)
    weights = np.array([d[1] for d in _DEVICES])
    for i in range(n_dev):
        site = sites[i % len(sites)][0]
        name, _, tf, mem, idle, peak, acc = _DEVICES[int(rng.choice(len(_DEVICES), p=weights / weights.sum()))]
        k = len(devices_by_site[site])
        line = f"L{k // 8 + 1}"
        nid = f"{site}-{line}-{name.upper()}-{k + 1:03d}"
        out_nodes.append(Node(
            id=nid, tier="device", site=site, region=site_region[site], line=line, compute_tflops=tf,
            memory_gb=mem, accelerator=acc,  # type: ignore[arg-type]
            power_idle_w=idle, power_peak_w=peak, pue=1.0,
            carbon_g_per_kwh=float(np.mean(grid[site_region[site]])), carbon_hourly=grid[site_region[site]],
            cost_per_h=0.0, availability=0.9999 if name == "plc" else 0.999,
        ))
        edges = edges_by_site[site]
        links.append(Link(src=nid, dst=edges[k % len(edges)], latency_ms=round(float(rng.uniform(0.2, 1.0)), 2),
                          bandwidth_mbps=float(rng.choice([100.0, 1000.0]))))
        devices_by_site[site].append(nid)
    cloud_ids: list[tuple[str, str]] = []
    for i in range(n_cloud):
        region = clouds[i % len(clouds)]
        nid = f"CLOUD-{region}-{i // len(clouds) + 1}"
        out_nodes.append(Node(
            id=nid, tier="cloud", site=region, region=region, compute_tflops=4000.0, memory_gb=2048.0,
            accelerator="gpu", power_idle_w=2000.0, power_peak_w=12000.0, pue=round(float(rng.uniform(1.08, 1.25)), 2),
            carbon_g_per_kwh=float(np.mean(grid[region])), carbon_hourly=grid[region], cost_per_h=60.0,
            availability=0.9995,
        ))
        for other, oreg in cloud_ids:
            links.append(Link(src=nid, dst=other, latency_ms=_wan(region, oreg), bandwidth_mbps=10000.0))
        for site, sreg in sites:
            for e in edges_by_site[site]:
                links.append(Link(src=e, dst=nid, latency_ms=round(_wan(sreg, region) * float(rng.uniform(1, 1.3)), 1),
                                  bandwidth_mbps=1000.0))
        cloud_ids.append((nid, region))
    wls = [_workload(j, rng, sites, devices_by_site, edges_by_site, horizon_h) for j in range(workloads)]
    return Scenario(name=f"{profile}-{nodes}x{workloads}-s{seed}", horizon_h=horizon_h, nodes=out_nodes,
                    links=links, workloads=wls)


def _workload(
    j: int,
    rng: np.random.Generator,
    sites: list[tuple[str, str]],
    devices: dict[str, list[str]],
    edges: dict[str, list[str]],
    horizon_h: int,
) -> Workload:
    site, region = sites[int(rng.integers(len(sites)))]
    dev_src = devices[site][int(rng.integers(len(devices[site])))] if devices[site] else edges[site][0]
    edge_src = edges[site][int(rng.integers(len(edges[site])))]
    u = float(rng.random())
    wid = f"W{j:06d}"
    if u < 0.35:  # control loop next to the machine
        return Workload(id=wid, kind="control", source=dev_src, site=site, model_params_b=5e-6, quantization="int8",
                        gflop_per_request=1e-5, requests_per_s=float(rng.choice([100.0, 250.0, 500.0, 1000.0])),
                        input_kb=0.1, output_kb=0.05, latency_slo_ms=float(rng.choice([2.0, 5.0, 10.0])),
                        stay_on_site=True, priority=int(rng.integers(8, 11)), min_availability=0.999)
    if u < 0.60:  # visual quality control (ResNet-50 class)
        return Workload(id=wid, kind="vision", source=dev_src, site=site, model_params_b=0.025, quantization="int8",
                        gflop_per_request=8.0, requests_per_s=float(rng.uniform(2, 25)),
                        input_kb=float(rng.uniform(50, 300)), output_kb=1.0,
                        latency_slo_ms=float(rng.choice([30.0, 50.0, 100.0])), stay_on_site=bool(rng.random() < 0.4),
                        allowed_regions=[region], priority=int(rng.integers(5, 8)))
    if u < 0.84:  # anomaly / predictive maintenance
        return Workload(id=wid, kind="anomaly", source=dev_src, site=site, model_params_b=0.001, quantization="fp16",
                        gflop_per_request=0.002, requests_per_s=float(rng.uniform(1, 50)), input_kb=2.0,
                        output_kb=0.1, latency_slo_ms=float(rng.choice([100.0, 500.0, 1000.0])),
                        allowed_regions=[region] if rng.random() < 0.5 else None, priority=int(rng.integers(3, 6)))
    if u < 0.88:  # LLM assistant for engineers
        params = float(rng.choice([1.0, 3.0, 8.0, 14.0, 70.0], p=[0.3, 0.35, 0.25, 0.07, 0.03]))
        quant = "int4" if params >= 8 else str(rng.choice(["int8", "fp16"]))
        sovereign = bool(rng.random() < 0.5)
        return Workload(id=wid, kind="llm", source=edge_src, site=site, model_params_b=params,
                        quantization=quant,  # type: ignore[arg-type]
                        tokens_per_request=int(rng.integers(200, 600)), requests_per_s=float(rng.uniform(0.02, 0.2)),
                        input_kb=8.0, output_kb=4.0, latency_slo_ms=float(rng.choice([3000.0, 8000.0, 15000.0])),
                        allowed_regions=[region] if sovereign else None, needs_accelerator=params >= 3,
                        priority=int(rng.integers(2, 5)))
    dur = min(int(rng.integers(1, 5)), horizon_h)  # deferrable batch job: retraining, analytics, simulation
    earliest = min(int(rng.integers(0, max(1, horizon_h // 4))), horizon_h - dur)
    deadline = min(horizon_h, earliest + dur + int(rng.integers(4, max(5, horizon_h - earliest - dur + 1))))
    return Workload(id=wid, kind="batch", source=edge_src, site=site, model_params_b=float(rng.uniform(0.05, 1.0)),
                    quantization="fp16", gflop_per_request=float(rng.uniform(2000, 20000)), requests_per_s=1.0,
                    input_kb=1000.0, output_kb=100.0, allowed_regions=None if rng.random() < 0.6 else [region, "eu-north"],
                    needs_accelerator=True, priority=int(rng.integers(1, 3)),
                    deferrable=DeferWindow(earliest_h=earliest, deadline_h=deadline, duration_h=dur))
