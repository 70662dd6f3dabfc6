"""Placement: hand-solved instances, sovereignty, validator, infeasibility, carbon, tools."""

from __future__ import annotations

import pytest

from tools.errors import ToolRetry
from tools.placement import (
    TOOLS,
    Assignment,
    DeferWindow,
    Link,
    Node,
    Scenario,
    Weights,
    Workload,
    estimate_llm_call,
    first_fit,
    generate_scenario,
    solve,
    solve_exact,
    solve_heuristic,
    validate_placement,
    where_to_run,
)
from tools.placement.llm_cost import TierProfile
from tools.registry import ToolContext, ToolRegistry

COST_ONLY = Weights(slo_violation=0.0, energy_kwh=0.0, carbon_kg=0.0, cost=1.0, unplaced=100.0)


def _node(nid: str, tier: str = "edge", **kw: object) -> Node:
    base: dict[str, object] = dict(id=nid, tier=tier, site="S1", region="eu-central", compute_tflops=60.0,
                                   memory_gb=100.0, power_idle_w=0.0, power_peak_w=1.0, carbon_g_per_kwh=300.0)
    base.update(kw)
    return Node.model_validate(base)


def _wl(wid: str, tflops: float, **kw: object) -> Workload:
    base: dict[str, object] = dict(id=wid, source="edge", site="S1", model_params_b=1.0, gflop_per_request=tflops,
                                   requests_per_s=1000.0, memory_gb=1.0)
    base.update(kw)
    return Workload.model_validate(base)


def knapsack_scenario() -> Scenario:
    """Free edge (60 TFLOP/s) + cloud at 10/h for 100 TFLOP/s, one hour.

    A=40, B=30, C=20 TFLOP/s. Edge fits {A, C} (60) -> B to cloud costs 0.3 x 10 = 3.0;
    {B, C} -> A costs 4.0; {A} or {B} alone is worse. Optimum 3.0 by hand.
    """
    return Scenario(
        horizon_h=1, max_utilisation=1.0, weights=COST_ONLY,
        nodes=[_node("edge"), _node("cloud", tier="cloud", site="eu-central", compute_tflops=100.0,
                                    memory_gb=1000.0, cost_per_h=10.0)],
        links=[Link(src="edge", dst="cloud", latency_ms=10.0, bandwidth_mbps=1000.0)],
        workloads=[_wl("A", 40.0), _wl("B", 30.0), _wl("C", 20.0)],
    )


def _where(res: object) -> dict[str, str]:
    return {a.workload: a.node for a in res.assignments}  # type: ignore[attr-defined]


def test_hand_solved_knapsack_exact_and_heuristic() -> None:
    sc = knapsack_scenario()
    ex = solve_exact(sc, time_limit_s=5)
    assert ex.status == "optimal"
    assert ex.objective == pytest.approx(3.0)
    assert ex.lower_bound == pytest.approx(3.0, abs=1e-6)
    assert _where(ex) == {"A": "edge", "B": "cloud", "C": "edge"}
    assert ex.violations == []
    he = solve_heuristic(sc, time_limit_s=2)
    assert he.objective == pytest.approx(3.0)
    assert he.lower_bound <= 3.0 + 1e-9
    assert he.violations == []


def test_slo_pushes_control_loop_to_edge() -> None:
    """A 5 ms control loop: cloud is free but 2 x 10 ms away; edge costs 1/h -> edge wins (by hand)."""
    sc = Scenario(
        horizon_h=1, max_utilisation=1.0,
        weights=Weights(slo_violation=10.0, energy_kwh=0.0, carbon_kg=0.0, cost=1.0, unplaced=100.0),
        nodes=[_node("edge", cost_per_h=1.0), _node("cloud", tier="cloud", site="eu-central", compute_tflops=100.0)],
        links=[Link(src="edge", dst="cloud", latency_ms=10.0, bandwidth_mbps=1000.0)],
        workloads=[_wl("ctl", 0.06, latency_slo_ms=5.0, memory_gb=0.05)],
    )
    res = solve(sc, method="exact", time_limit_s=5)
    assert _where(res) == {"ctl": "edge"}
    assert res.slo_hit_rate == 1.0
    # share = max(0.06/60 compute, 0.05/100 memory) = 0.001; x 1/h x 1 h
    assert res.objective == pytest.approx(0.001)


@pytest.mark.parametrize("method", ["exact", "heuristic"])
def test_sovereignty_never_violated(method: str) -> None:
    sc = generate_scenario(24, 150, seed=3, profile="national")
    res = solve(sc, method=method, time_limit_s=4)  # type: ignore[arg-type]
    nodes = {n.id: n for n in sc.nodes}
    wls = {w.id: w for w in sc.workloads}
    assert any(w.stay_on_site for w in sc.workloads) and any(w.allowed_regions for w in sc.workloads)
    for a in res.assignments:
        w, n = wls[a.workload], nodes[a.node]
        assert not w.stay_on_site or n.site == w.site
        assert w.allowed_regions is None or n.region in w.allowed_regions
    assert res.violations == []
    assert res.lower_bound <= res.objective + 1e-9


def test_bounds_are_valid_against_exact() -> None:
    sc = generate_scenario(12, 60, seed=5, profile="campus")
    ex = solve_exact(sc, time_limit_s=6)
    he = solve_heuristic(sc, time_limit_s=3)
    ff = first_fit(sc)
    assert ex.violations == [] and he.violations == [] and ff.violations == []
    best = min(ex.objective, he.objective)
    assert he.lower_bound <= best + 1e-6
    assert ex.lower_bound <= best + 1e-6
    assert he.objective <= ff.objective + 1e-9


def _validation_scenario() -> Scenario:
    return Scenario(
        horizon_h=4, max_utilisation=1.0,
        nodes=[_node("edge", compute_tflops=10.0, memory_gb=8.0),
               _node("plc", tier="device", compute_tflops=1.0, memory_gb=0.5, availability=0.99),
               _node("cloud", tier="cloud", site="us-east", region="us-east", accelerator="gpu",
                     compute_tflops=100.0, memory_gb=100.0)],
        workloads=[
            _wl("big", 8.0, memory_gb=6.0), _wl("big2", 8.0, memory_gb=6.0),
            _wl("local", 0.1, stay_on_site=True), _wl("eu", 0.1, allowed_regions=["eu-central"]),
            _wl("gpu", 0.1, needs_accelerator=True), _wl("safe", 0.01, memory_gb=0.1, min_availability=0.999),
            _wl("job", 1.0, deferrable=DeferWindow(earliest_h=1, deadline_h=3, duration_h=2)),
        ],
    )


@pytest.mark.parametrize(
    ("assignments", "kind"),
    [
        ([Assignment(workload="big", node="edge"), Assignment(workload="big2", node="edge")], "capacity"),
        ([Assignment(workload="big", node="plc")], "memory"),
        ([Assignment(workload="local", node="cloud")], "sovereignty"),
        ([Assignment(workload="eu", node="cloud")], "sovereignty"),
        ([Assignment(workload="gpu", node="edge")], "accelerator"),
        ([Assignment(workload="safe", node="plc")], "availability"),
        ([Assignment(workload="job", node="cloud", start_hour=2)], "window"),
        ([Assignment(workload="job", node="cloud", start_hour=None)], "window"),
        ([Assignment(workload="nope", node="edge")], "unknown"),
        ([Assignment(workload="gpu", node="cloud"), Assignment(workload="gpu", node="cloud")], "duplicate"),
    ],
)
def test_validator_catches_each_violation(assignments: list[Assignment], kind: str) -> None:
    kinds = {v.kind for v in validate_placement(_validation_scenario(), assignments)}
    assert kind in kinds


def test_validator_accepts_a_valid_plan() -> None:
    ok = [Assignment(workload="big", node="edge"), Assignment(workload="gpu", node="cloud"),
          Assignment(workload="job", node="cloud", start_hour=1), Assignment(workload="local", node="edge")]
    assert validate_placement(_validation_scenario(), ok) == []


def test_infeasible_workloads_reported_with_reason() -> None:
    sc = _validation_scenario()
    sc.workloads.append(_wl("huge", 1.0, memory_gb=500.0))
    sc.workloads.append(_wl("mars", 0.1, allowed_regions=["mars-1"]))
    sc.workloads.append(_wl("gpu-local", 0.1, needs_accelerator=True, stay_on_site=True))
    res = solve(sc, method="exact", time_limit_s=5)
    reasons = {r.workload: r.reason for r in res.infeasible_reasons}
    assert set(res.infeasible_workloads) >= {"huge", "mars", "gpu-local"}
    assert reasons["huge"].startswith("memory: needs 500 GB")
    assert reasons["mars"].startswith("sovereignty")
    assert reasons["gpu-local"].startswith("accelerator")
    assert res.violations == []
    assert {a.workload for a in res.assignments}.isdisjoint({"huge", "mars", "gpu-local"})


def test_capacity_shortage_is_reported_not_violated() -> None:
    sc = Scenario(horizon_h=1, max_utilisation=1.0, weights=COST_ONLY, nodes=[_node("edge", compute_tflops=10.0)],
                  workloads=[_wl("a", 6.0), _wl("b", 6.0, priority=3)])
    for method in ("exact", "heuristic"):
        res = solve(sc, method=method, time_limit_s=3)  # type: ignore[arg-type]
        assert _where(res) == {"b": "edge"}  # higher priority keeps its place
        assert res.infeasible_workloads == ["a"]
        assert res.infeasible_reasons[0].reason.startswith("capacity")
        assert res.objective == pytest.approx(100.0)


def test_carbon_aware_shifts_job_to_lowest_window() -> None:
    hourly = [500.0, 400.0, 100.0, 50.0, 300.0, 600.0]
    sc = Scenario(
        horizon_h=6, max_utilisation=1.0,
        weights=Weights(slo_violation=0.0, energy_kwh=0.0, carbon_kg=1.0, cost=0.0, unplaced=100.0),
        nodes=[_node("edge", power_idle_w=0.0, power_peak_w=1000.0, carbon_hourly=hourly)],
        workloads=[_wl("job", 60.0, deferrable=DeferWindow(earliest_h=0, deadline_h=6, duration_h=2))],
    )
    aware = solve(sc, method="exact", time_limit_s=3)
    blind = solve(sc, method="exact", time_limit_s=3, carbon_aware=False)
    assert aware.assignments[0].start_hour == 2  # hours 2-3: 100 + 50 g/kWh
    assert blind.assignments[0].start_hour == 0
    # 1 kW for 2 h: 2 kWh; (100 + 50) g per kWh-hour -> 0.15 kg vs (500 + 400) -> 0.9 kg
    assert aware.carbon_kg == pytest.approx(0.15)
    assert blind.carbon_kg == pytest.approx(0.9)
    assert aware.carbon_saved_kg == pytest.approx(0.75)


def test_auto_picks_by_size_and_bad_method() -> None:
    assert solve(knapsack_scenario(), method="auto", time_limit_s=3).method == "exact"
    with pytest.raises(ToolRetry, match="valid: 'exact'"):
        solve(knapsack_scenario(), method="fast")  # type: ignore[arg-type]


def test_generator_is_deterministic_and_three_tier() -> None:
    a = generate_scenario(30, 50, seed=7, profile="campus")
    b = generate_scenario(30, 50, seed=7, profile="campus")
    assert a == b
    assert {n.tier for n in a.nodes} == {"device", "edge", "cloud"}
    assert len(a.nodes) == 30 and len(a.workloads) == 50
    regions = {n.region: n.carbon_g_per_kwh for n in a.nodes if n.tier == "cloud"}
    assert len(set(regions.values())) > 1
    with pytest.raises(ValueError, match="nodes must be >= 3"):
        generate_scenario(2, 5)


def test_where_to_run_tool() -> None:
    ctx = ToolContext()
    sovereign = where_to_run(ctx, 8.0, 5000.0, True)
    assert sovereign.tier in ("device", "edge") and "sovereign" in sovereign.reason
    big = where_to_run(ctx, 70.0, 20000.0, False, quantization="fp16")
    assert big.tier != "device" and "168 GB" in big.reason
    nowhere = where_to_run(ctx, 2000.0, 100.0, True, quantization="fp32")
    assert nowhere.tier is None and nowhere.reason.startswith("nowhere")


def test_tools_register_with_schemas() -> None:
    reg = ToolRegistry()
    for fn in TOOLS:
        reg.add(fn)
    assert set(reg.names()) == {"solve_placement", "where_to_run", "carbon_shift"}
    assert reg.names(mutating=True) == []
    spec = reg.get("where_to_run").json_schema()["function"]
    assert {"model_params_b", "latency_slo_ms", "sovereign"} <= set(spec["parameters"]["required"])
    res = reg.get("solve_placement")(ToolContext(), scenario=knapsack_scenario().model_dump(), time_limit_s=3)
    assert res.objective == pytest.approx(3.0)


def test_estimate_llm_call() -> None:
    p = TierProfile(tokens_per_s=20.0, prompt_tokens_per_s=200.0, link_latency_ms=40.0, power_w=360.0,
                    grid_g_per_kwh=300.0, pue=1.5, cost_per_1k_tokens=0.01)
    est = estimate_llm_call(p, 400, 100)
    # busy 400/200 + 100/20 = 7 s -> 7040 ms; 360 W x 7 s / 3600 x 1.5 = 1.05 Wh; 0.315 g; 0.005
    assert est.latency_ms == pytest.approx(7040.0)
    assert est.energy_wh == pytest.approx(1.05)
    assert est.carbon_g == pytest.approx(0.315)
    assert est.cost == pytest.approx(0.005)
    with pytest.raises(ValueError, match="measure"):
        TierProfile(tokens_per_s=0.0, prompt_tokens_per_s=1.0)


def _unreduced_optimum(sc: Scenario) -> float:
    """The full MILP (every option, every capacity row), no fixing and no dominance: the reference."""
    import numpy as np
    from scipy.optimize import Bounds, LinearConstraint, milp

    from tools.placement.costs import build_options, compile_scenario
    from tools.placement.exact import _model

    cp = compile_scenario(sc)
    opts = build_options(cp, k=None)
    mdl = _model(cp, opts)
    keep = np.r_[np.ones(len(opts.w), dtype=bool), np.isfinite(opts.best)]
    res = milp(mdl.c[keep], integrality=np.ones(int(keep.sum())), bounds=Bounds(0, 1),
               constraints=[LinearConstraint(mdl.a_eq[:, keep], mdl.b_eq, mdl.b_eq),
                            LinearConstraint(1000.0 * mdl.a_ub[:, keep], -np.inf, 1000.0)],
               options={"mip_rel_gap": 0.0, "time_limit": 30.0})
    assert res.status == 0
    return float(res.fun)


@pytest.mark.parametrize(("nodes", "wls", "seed", "profile"), [(10, 40, 2, "factory"), (12, 60, 5, "campus")])
def test_fixing_and_dominance_keep_the_optimum(nodes: int, wls: int, seed: int, profile: str) -> None:
    """Reduced-cost fixing + dominated-option removal give the same optimum as the unreduced MILP."""
    sc = generate_scenario(nodes, wls, seed=seed, profile=profile)  # type: ignore[arg-type]
    ex = solve_exact(sc, time_limit_s=20)
    assert ex.status == "optimal" and ex.violations == []
    ref = _unreduced_optimum(sc)
    assert ex.objective == pytest.approx(ref, rel=1e-5, abs=1e-6)
    assert ex.lower_bound <= ex.objective + 1e-9


def test_reduction_keeps_a_choice_for_every_workload() -> None:
    import numpy as np

    from tools.placement.costs import build_options, compile_scenario
    from tools.placement.evaluate import objective_of
    from tools.placement.exact import _model, drop_dominated, reduce_options
    from tools.placement.heuristic import heuristic_raw

    cp = compile_scenario(generate_scenario(20, 100, seed=1, profile="factory"))
    opts = build_options(cp, k=None)
    n, s = heuristic_raw(cp, opts, deadline=0.0)
    upper = objective_of(cp, opts.best, n, s)
    red = reduce_options(cp, opts, upper)
    assert red.bound <= upper + 1e-9
    before = int(red.keep_x.sum())
    drop_dominated(cp, opts, _model(cp, opts).a_ub, red.keep_x, red.keep_u)
    assert int(red.keep_x.sum()) < before < len(opts.w)
    choices = np.bincount(opts.w[red.keep_x], minlength=cp.W) + red.keep_u
    assert (choices[np.isfinite(opts.best)] >= 1).all()
    # the heuristic plan's options survive fixing (each costs <= UB by the Lagrangian argument)
    fixed = reduce_options(cp, opts, upper, prices=(red.lam_c, red.lam_m))
    placed = np.nonzero(n >= 0)[0]
    idx = {(int(w), int(nn), int(ss)): o for o, (w, nn, ss) in enumerate(zip(opts.w, opts.n, opts.s, strict=True))}
    assert all(fixed.keep_x[idx[(int(j), int(n[j]), int(s[j]))]] for j in placed)


def test_node_classes_and_class_bound_are_valid() -> None:
    """Class-tied multipliers: identical nodes share a class; the bound never exceeds a feasible plan."""
    import numpy as np

    from tools.placement.bound import capacity_free_bound, class_bound, node_classes
    from tools.placement.costs import build_options, compile_scenario

    sc = generate_scenario(20, 100, seed=1, profile="factory")
    cp = compile_scenario(sc)
    cls = node_classes(cp)
    jetsons = [i for i, n in enumerate(sc.nodes) if "JETSON" in n.id]
    assert len(jetsons) >= 2 and len({int(cls[i]) for i in jetsons}) == 1
    assert len(set(node_classes(cp, fine=True).tolist())) >= len(set(cls.tolist()))
    ex = solve_exact(sc, time_limit_s=20)
    he = solve_heuristic(sc, time_limit_s=2)
    ff = first_fit(sc)
    b = class_bound(cp, he.objective, time_limit_s=1.0)
    assert capacity_free_bound(cp, build_options(cp, k=None)) <= b.value + 1e-9
    for plan in (ex, he, ff):
        assert b.value <= plan.objective + 1e-9
    assert (b.lam_c >= 0).all() and (b.lam_m >= 0).all() and np.isfinite(b.value)
    assert ex.status == "optimal" and ex.gap <= 1e-6


def test_where_to_run_in_the_north_region_does_not_duplicate_the_cloud_pool() -> None:
    from tools.placement.api import reference_nodes

    nodes, links = reference_nodes("eu-north")
    assert len({n.id for n in nodes}) == len(nodes) == 3
    assert len({(ln.src, ln.dst) for ln in links}) == len(links)


def test_cpsat_and_highs_backends_prove_the_same_optimum() -> None:
    """The CP-SAT backend (rounded-down relaxation of the reduced model) and HiGHS agree."""
    sc = generate_scenario(20, 100, seed=3, profile="factory")
    cps = solve_exact(sc, time_limit_s=20, backend="cpsat")
    his = solve_exact(sc, time_limit_s=20, backend="highs")
    assert cps.status == his.status == "optimal"
    assert cps.violations == [] and his.violations == []
    assert cps.objective == pytest.approx(his.objective, rel=1e-6, abs=1e-6)
    assert cps.lower_bound <= cps.objective + 1e-9 and cps.gap <= 1e-6


def test_dense_job_costs_equal_the_terms_of_every_option() -> None:
    """Jobs are priced on their eligible (workload, node) pairs only: same numbers as pricing every option."""
    import numpy as np

    from tools.placement.costs import compile_scenario

    cp = compile_scenario(generate_scenario(60, 600, seed=2, profile="national"))
    for carbon_aware in (True, False):
        for w in cp.groups(chunk_elems=100_000):
            got = cp.dense_costs(w, carbon_aware=carbon_aware)
            S = got.shape[2]
            s = np.arange(S)
            ww = w[:, None, None]
            t = cp.terms(ww, np.arange(cp.N)[None, :, None], np.minimum(s[None, None, :], cp.latest[ww]))
            ref = np.where(t.eligible, t.objective, np.inf)
            hi = (cp.latest[w] if carbon_aware else cp.earliest[w])[:, None, None]
            ref = np.where((s >= cp.earliest[w][:, None, None]) & (s <= hi), ref, np.inf) if S > 1 else ref
            assert np.array_equal(got, ref)


def test_class_lagrangian_equals_the_full_lagrangian_at_tied_multipliers() -> None:
    """Large instances report the class value instead of re-pricing every option: it is the same number."""
    import numpy as np

    from tools.placement.bound import _class_columns, _class_lagrangian, lagrangian_bound, node_classes
    from tools.placement.costs import compile_scenario

    cp = compile_scenario(generate_scenario(30, 400, seed=4, profile="campus"))
    rng = np.random.default_rng(0)
    for fine in (False, True):
        cls = node_classes(cp, fine=fine)
        col = _class_columns(cp, cls, carbon_aware=True)
        K = int(cls.max()) + 1
        for scale in (0.0, 1e-3, 1e-1):
            mu_c, mu_m = rng.random((K, cp.H)) * scale, rng.random((K, cp.H)) * scale
            value, _, _ = _class_lagrangian(col, mu_c, mu_m)
            full, _, _ = lagrangian_bound(cp, mu_c[cls] / cp.cap_c[:, None], mu_m[cls] / cp.cap_m[:, None])
            assert value == pytest.approx(full, rel=1e-9, abs=1e-9)


def test_widened_placement_takes_the_first_fitting_option_in_cost_order() -> None:
    """The vectorised scan of a widened list picks what the one-by-one scan picks."""
    from itertools import pairwise

    import numpy as np

    from tools.placement.costs import build_options, compile_scenario
    from tools.placement.heuristic import construct

    cp = compile_scenario(generate_scenario(40, 1500, seed=1, profile="factory"))
    opts = build_options(cp, k=4)
    st = construct(cp, opts)
    checked = 0
    for j in np.nonzero(np.isfinite(opts.best) & (opts.best < cp.unplaced))[0][:200].tolist():
        old = st.take(j)
        st.wide.pop(j, None)
        st.widen(j)
        ns, ss, cs = (a.tolist() for a in st.wide[j])
        expect = next(((n, s) for n, s, c in zip(ns, ss, cs, strict=True) if n != old[0] and st.fits(j, n, s)), None)
        assert all(b >= a * (1 - 1e-12) for a, b in pairwise(cs))  # cost order up to the tie-break
        placed = st.place_best(j, skip_node=old[0])
        assert placed == (expect is not None)
        if placed:
            assert (st.cur_n[j], st.cur_s[j]) == expect
            checked += 1
        st.restore(j, old)
    assert checked > 50


def test_shortage_bound_on_a_hand_checked_short_instance() -> None:
    """12 TFLOP/s for four 6 TFLOP/s workloads (penalty 100 each, free to run): two must stay out."""
    from tools.placement.bound import shortage_bound
    from tools.placement.costs import build_options, compile_scenario

    sc = Scenario(horizon_h=1, max_utilisation=1.0, weights=COST_ONLY,
                  nodes=[_node("e1", compute_tflops=6.0), _node("e2", compute_tflops=6.0),
                         _node("eu", tier="cloud", site="eu-central", compute_tflops=100.0, memory_gb=1000.0,
                               region="us-east")],
                  links=[Link(src="e1", dst="e2", latency_ms=0.2, bandwidth_mbps=1000.0),
                         Link(src="e1", dst="eu", latency_ms=30.0, bandwidth_mbps=1000.0)],
                  workloads=[_wl(f"w{i}", 6.0, source="e1", allowed_regions=["eu-central"]) for i in range(4)])
    cp = compile_scenario(sc)
    sb = shortage_bound(cp, build_options(cp, k=None).best, time_limit_s=5)
    # the us-east pool is ruled out by sovereignty; e1 and e2 pool to 12 TFLOP/s for 24 demanded
    assert sb.status == "optimal" and sb.must_unplace == 2
    assert sb.extra == pytest.approx(200.0, rel=1e-6) and sb.value <= 200.0 + 1e-9
    res = solve_exact(sc, time_limit_s=5)
    assert res.objective == pytest.approx(200.0) and len(res.infeasible_workloads) == 2
    assert sb.value <= res.objective + 1e-9


@pytest.mark.parametrize(("nodes", "wls", "seed", "profile"), [(20, 100, 1, "factory"), (12, 60, 5, "campus"),
                                                               (15, 60, 2, "factory")])
def test_shortage_bound_never_exceeds_the_exact_optimum(nodes: int, wls: int, seed: int, profile: str) -> None:
    from tools.placement.bound import shortage_bound
    from tools.placement.costs import build_options, compile_scenario

    sc = generate_scenario(nodes, wls, seed=seed, profile=profile)  # type: ignore[arg-type]
    cp = compile_scenario(sc)
    sb = shortage_bound(cp, build_options(cp, k=None).best, time_limit_s=5)
    ex = solve_exact(sc, time_limit_s=10)
    assert sb.status == "optimal" and ex.status == "optimal" and sb.value <= ex.objective + 1e-6
    short = Scenario(horizon_h=1, max_utilisation=1.0, weights=COST_ONLY, nodes=[_node("edge", compute_tflops=10.0)],
                     workloads=[_wl("a", 6.0), _wl("b", 6.0, priority=3)])
    cs = compile_scenario(short)
    sb = shortage_bound(cs, build_options(cs, k=None).best, time_limit_s=5)
    assert sb.must_unplace == 1 and sb.value <= solve_exact(short, time_limit_s=5).objective + 1e-9


def test_make_room_moves_an_occupant_to_place_an_unplaced_workload() -> None:
    """x sits on A (its cheapest node), so y, which only A's memory can hold, is out; repair swaps them in."""
    import time

    from tools.placement.costs import build_options, compile_scenario
    from tools.placement.heuristic import _make_room, _State

    sc = Scenario(horizon_h=1, max_utilisation=1.0, weights=COST_ONLY,
                  nodes=[_node("A", compute_tflops=10.0, memory_gb=100.0),
                         _node("B", compute_tflops=10.0, memory_gb=10.0, cost_per_h=1.0)],
                  links=[Link(src="A", dst="B", latency_ms=0.2, bandwidth_mbps=1000.0)],
                  workloads=[_wl("x", 5.0, source="A"), _wl("y", 8.0, source="A", memory_gb=50.0)])
    cp = compile_scenario(sc)
    st = _State(cp, build_options(cp, k=None))
    x, y, a, b = cp.wl_index["x"], cp.wl_index["y"], cp.node_index["A"], cp.node_index["B"]
    assert st.place_best(x) and st.cur_n[x] == a and not st.place_best(y)
    assert _make_room(st, y, time.perf_counter() + 5)
    assert (st.cur_n[y], st.cur_n[x]) == (a, b)
    assert sum(st.cur_c) == pytest.approx(0.5)  # x pays half of B's price; nothing unplaced
    assert not _make_room(st, y, time.perf_counter() + 5)  # already placed
    res = solve_heuristic(sc, time_limit_s=2)
    assert res.infeasible_workloads == [] and res.objective == pytest.approx(0.5)
