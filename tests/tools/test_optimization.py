"""Process models, optimizer, surrogate trust region, setpoint writes, regret report, CLI."""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from scipy.optimize import brentq
from typer.testing import CliRunner

from evals.optimization_regret import air_true_optimum, chiller_true_optimum, regret_report
from knowledge.store import KnowledgeStore
from server.cli_optimize import app
from tools.errors import ToolFailed, ToolRetry
from tools.optimization import (
    TOOLS,
    SetpointIn,
    default_air_station,
    default_chiller_plant,
    fit_surrogate,
    optimization_savings,
    optimize_air,
    optimize_chiller_plant,
    optimize_chillers,
    optimize_compressed_air,
    optimize_surrogate,
    write_setpoints,
)
from tools.optimization.chiller import ChillerDecision, ChillerPlant, ChillerSpec, chiller_plant_power
from tools.optimization.compressed_air import AirDecision, AirStation, CompressorSpec, air_station_power, user_pressure_bar
from tools.optimization.kg import training_frame
from tools.optimization.optimize import Setpoint
from tools.optimization.problems import Band, chiller_problems
from tools.optimization.search import solve_slsqp
from tools.registry import ToolContext, ToolRegistry

from .optimization_fixtures import START, build_plant_kg


@pytest.fixture(scope="module")
def plant_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("optkg") / "plant.duckdb"
    build_plant_kg(path, hours=300).close()
    return path


@pytest.fixture
def writable_kg(plant_db: Path, tmp_path: Path) -> KnowledgeStore:
    copy = tmp_path / "plant.duckdb"
    copy.write_bytes(plant_db.read_bytes())
    kg = KnowledgeStore(copy)
    yield kg
    kg.close()


# -- known optima --------------------------------------------------------------------------------
def test_single_vsd_compressor_sits_on_the_minimum_user_pressure() -> None:
    """One VSD compressor: power rises with pressure, so the optimum is p with p_user == p_min exactly."""
    st = AirStation(compressors=(CompressorSpec("CMP-01", "vsd", 30.0, 170.0, min_load=0.2),), leak_m3min_ref=2.0)
    res = optimize_air(st, 18.0, min_user_pressure_bar=6.2, uncertainty_samples=8)
    p_star = brentq(lambda p: user_pressure_bar(st, 18.0, p) - 6.2, 5.0, 9.0, xtol=1e-12)
    assert res.hours[0].setpoints["pressure_bar"] == pytest.approx(p_star, abs=2e-4)
    assert any("minimum pressure 6.2 bar" in b for b in res.binding_constraints)
    assert res.saving.kwh > 0 and res.optimized_kw < res.baseline_kw


def test_identical_chillers_share_the_load_equally_and_match_the_grid_optimum() -> None:
    spec = ChillerSpec("CHL-A", 1000.0, 5.5)
    plant = ChillerPlant(chillers=(spec, ChillerSpec("CHL-B", 1000.0, 5.5)))
    res = optimize_chillers(plant, 1500.0, 20.0, uncertainty_samples=8)
    sp = res.hours[0].setpoints
    assert sp["load_kw CHL-A"] == pytest.approx(sp["load_kw CHL-B"], rel=1e-3)  # symmetric, convex part-load curve
    truth = chiller_true_optimum(plant, 1500.0, 20.0)
    assert res.optimized_kw == pytest.approx(truth, rel=1e-4)


def test_slsqp_matches_exhaustive_optimum_on_the_reference_models() -> None:
    plant, st = default_chiller_plant(), default_air_station()
    for load, wb in [(900.0, 18.0), (2600.0, 25.0)]:
        res = optimize_chillers(plant, load, wb, budget=800, uncertainty_samples=4)
        assert (res.optimized_kw - chiller_true_optimum(plant, load, wb)) / res.optimized_kw < 1e-3
    for demand in (14.0, 47.0):
        res = optimize_air(st, demand, budget=800, uncertainty_samples=4)
        assert (res.optimized_kw - air_true_optimum(st, demand)) / res.optimized_kw < 1e-3


# -- constraints -----------------------------------------------------------------------------
def test_chiller_constraints_respected_and_binding_reported() -> None:
    plant = default_chiller_plant()
    res = optimize_chillers(plant, 1500.0, 22.0, chws_band_c=(6.0, 7.0), uncertainty_samples=8)
    h = res.hours[0].setpoints
    assert 6.0 - 1e-9 <= h["chws_c"] <= 7.0 + 1e-9
    assert "band max chilled-water supply °C" in res.binding_constraints  # warmer is better, the band stops it
    loads = [h[f"load_kw {c.asset_id}"] for c in plant.chillers]
    assert sum(loads) == pytest.approx(1500.0)
    pw = chiller_plant_power(plant, 1500.0, 22.0, ChillerDecision(h["chws_c"], h["cws_c"], tuple(loads)))
    assert pw.violations == ()
    assert h["cws_c"] >= 22.0 + 0.5


def test_ramp_limits_hold_hour_to_hour() -> None:
    res = optimize_chillers(default_chiller_plant(), [1200.0, 1300.0, 1400.0], [20.0, 21.0, 22.0],
                            current_chws_c=6.0, ramp_chws_c_per_h=0.5, uncertainty_samples=8)
    chws = [6.0] + [h.setpoints["chws_c"] for h in res.hours]
    assert all(abs(b - a) <= 0.5 + 1e-6 for a, b in itertools.pairwise(chws))
    assert "ramp up chilled-water supply °C" in res.hours[0].binding_constraints


def test_compressor_min_pressure_and_equipment_limits() -> None:
    st = default_air_station()
    res = optimize_air(st, 35.0, min_user_pressure_bar=6.5, uncertainty_samples=8)
    h = res.hours[0].setpoints
    assert h["user_pressure_bar"] >= 6.5 - 1e-6
    loads = tuple(None if h[f"load {c.asset_id}"] == 0 else h[f"load {c.asset_id}"] for c in st.compressors)
    pw = air_station_power(st, 35.0, AirDecision(h["pressure_bar"], loads), min_user_pressure_bar=6.5)
    assert pw.violations == ()
    with pytest.raises(ValueError, match="furthest user"):
        optimize_air(st, 35.0, min_user_pressure_bar=9.4, pressure_band_bar=(5.5, 9.5))


def test_cost_objective_and_uncertainty_band() -> None:
    res = optimize_air(default_air_station(), [20.0, 40.0], objective="cost", tariff_per_kwh=[0.1, 0.4])
    s = res.saving
    assert s.cost == pytest.approx(0.1 * (res.hours[0].baseline_kw - res.hours[0].optimized_kw)
                                   + 0.4 * (res.hours[1].baseline_kw - res.hours[1].optimized_kw))
    assert s.kwh_band.low <= s.kwh <= s.kwh_band.high
    with pytest.raises(ValueError, match="horizon has 3 hours"):
        optimize_air(default_air_station(), [20.0, 40.0], tariff_per_kwh=[0.1, 0.2, 0.3])


# -- surrogate + trust region ------------------------------------------------------------------
def test_surrogate_cv_error_and_trust_region_refusal(plant_db: Path) -> None:
    kg = KnowledgeStore(plant_db, read_only=True)
    frame = training_frame(kg, "chiller")
    assert len(frame) >= 250 and set(frame.columns) == {"load_kw", "wet_bulb_c", "chws_c", "cws_c", "power_kw"}
    sur = fit_surrogate(frame, ["load_kw", "wet_bulb_c", "chws_c", "cws_c"], "power_kw")
    assert 0 < sur.cv_mape < 10
    # conditions the data never saw: refused
    with pytest.raises(ToolFailed, match="outside the range the data covers"):
        optimize_surrogate(sur, {"load_kw": 3300.0, "wet_bulb_c": 20.0}, {"chws_c": (5.5, 9.0), "cws_c": (24, 34)})
    # a requested band wider than the data: searched only inside, and said so
    opt = optimize_surrogate(sur, {"load_kw": 1500.0, "wet_bulb_c": 18.0}, {"chws_c": (5.0, 10.0), "cws_c": (20, 34)},
                             budget=600)
    assert sur.lo[2] - 1e-9 <= opt.values["chws_c"] <= sur.hi[2] + 1e-9
    assert any("trust region" in n for n in opt.notes)
    assert sur.check({"load_kw": 1500.0, "wet_bulb_c": 18.0, "chws_c": 9.9, "cws_c": 30.0})
    kg.close()


def test_surrogate_tool_on_kg(plant_db: Path) -> None:
    kg = KnowledgeStore(plant_db, read_only=True)
    res = optimize_chiller_plant(ToolContext(kg=kg), 1500.0, 18.0, model="surrogate")
    assert res.model == "surrogate" and res.surrogate is not None and res.surrogate.cv_rmse > 0
    assert {s.tag for s in res.setpoints} == {"chws_setpoint", "cws_setpoint"}
    kg.close()


# -- write_setpoints / savings -------------------------------------------------------------------
def test_write_setpoints_stores_who_when_why_and_validates(writable_kg: KnowledgeStore) -> None:
    now = START + timedelta(days=20)
    ctx = ToolContext(kg=writable_kg, now=now, actor="alice")
    res = optimize_chiller_plant(ctx, 1500.0, 20.0)
    sps = [SetpointIn(asset_id=s.asset_id, tag=s.tag, value=s.value, unit=s.unit) for s in res.setpoints]
    out = write_setpoints(ctx, sps, "cut chiller energy tonight", run_id="run-1", predicted_saving_kw=res.saving.kwh,
                          tariff_per_kwh=0.2, carbon_kg_per_kwh=0.3)
    rows = writable_kg.query("SELECT * FROM setpoints WHERE run_id = 'run-1' ORDER BY id")
    assert len(rows) == len(sps) == len(out.rows)
    assert {r["approved_by"] for r in rows} == {"alice"}
    assert {r["applied_at"] for r in rows} == {now}
    assert {r["reason"] for r in rows} == {"cut chiller energy tonight"}
    with pytest.raises(ToolRetry, match="outside the equipment limits"):
        write_setpoints(ctx, [SetpointIn(asset_id="CHL-01", tag="chws_setpoint", value=15.0)], "too warm")
    with pytest.raises(ToolRetry, match="did you mean 'CHL-01'"):
        write_setpoints(ctx, [SetpointIn(asset_id="CHL-1", tag="chws_setpoint", value=7.0)], "typo")
    with pytest.raises(ToolRetry, match="setpoint tag"):
        write_setpoints(ctx, [SetpointIn(asset_id="CHL-01", tag="chws", value=7.0)], "typo")
    # savings: 10 h of the run inside the window
    rep = optimization_savings(ctx, now - timedelta(days=1), now + timedelta(hours=10))
    assert len(rep.runs) == 1 and rep.runs[0].hours_in_effect == pytest.approx(10.0)
    assert rep.total_kwh == pytest.approx(10 * res.saving.kwh)
    assert rep.total_cost == pytest.approx(0.2 * rep.total_kwh)
    # a later run of the same system ends the first one
    write_setpoints(ToolContext(kg=writable_kg, now=now + timedelta(hours=4), actor="bob"), sps[:1], "again",
                    run_id="run-2", predicted_saving_kw=1.0)
    rep2 = optimization_savings(ctx, now, now + timedelta(hours=10))
    assert [r.hours_in_effect for r in rep2.runs] == pytest.approx([4.0, 6.0])


def test_tools_are_declared_for_the_registry() -> None:
    reg = ToolRegistry()
    for fn in TOOLS:
        reg.add(fn)
    assert reg.names(mutating=True) == ["write_setpoints"]
    assert set(reg.names()) == {"optimize_chiller_plant", "optimize_compressed_air", "optimization_savings",
                                "write_setpoints"}
    res = reg.get("optimize_compressed_air")(ToolContext(), demand_m3min=30.0, min_pressure_bar=6.2)
    assert res.system == "compressed_air"
    with pytest.raises(ToolRetry):
        reg.get("optimize_compressed_air")(ToolContext(), demand_m3min="lots")


# -- regret report ---------------------------------------------------------------------------------
def test_regret_report_shape_small_budget() -> None:
    rep = regret_report(cases=4, budget=150, seed=1)
    assert rep.cases == 4 and len(rep.rows) == 4 and rep.budget == 150
    assert {r.system for r in rep.rows} == {"chiller", "compressed_air"}
    for r in rep.rows:
        assert r.evals_ours <= 150 and r.evals_random == 150
        assert r.regret_ours >= 0 and r.regret_random >= 0 and r.true_kw > 0
    assert rep.passed == (rep.median_regret_ours <= 0.01)


# -- CLI -------------------------------------------------------------------------------------------
def test_cli_chiller_json_and_plot(tmp_path: Path) -> None:
    out = CliRunner().invoke(app, ["chiller", "--load-kw", "1200", "--wet-bulb", "19", "--json",
                                   "--plot", str(tmp_path / "p")])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["system"] == "chiller" and doc["saving"]["kwh"] > 0
    assert Path(doc["plot_png"]).stat().st_size > 5000 and Path(doc["plot_html"]).read_text().count("plotly") > 3


def test_cli_compressor_json_and_bad_input() -> None:
    r = CliRunner()
    out = r.invoke(app, ["compressor", "--demand", "30,35", "--min-pressure-bar", "6.2", "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert len(doc["hours"]) == 2 and all(h["setpoints"]["user_pressure_bar"] >= 6.2 - 1e-6 for h in doc["hours"])
    bad = r.invoke(app, ["compressor", "--demand", "lots"])
    assert bad.exit_code == 2 and "must be a number" in bad.stderr
    bad = r.invoke(app, ["compressor", "--demand", "500"])
    assert bad.exit_code == 2 and "capacity" in bad.stderr
    bad = r.invoke(app, ["chiller", "--load-kw", "1000", "--wet-bulb", "20", "--model", "magic"])
    assert bad.exit_code == 2


def test_cli_history(writable_kg: KnowledgeStore, tmp_path: Path) -> None:
    now = datetime(2024, 7, 10)
    ctx = ToolContext(kg=writable_kg, now=now, actor="carol")
    write_setpoints(ctx, [SetpointIn(asset_id="CMP-01", tag="pressure_setpoint", value=6.8)], "lower pressure",
                    system="compressed_air", predicted_saving_kw=12.0, tariff_per_kwh=0.1)
    path = Path(writable_kg.path)
    writable_kg.close()
    out = CliRunner().invoke(app, ["history", "--db", str(path), "--start", "2024-07-09", "--end", "2024-07-11", "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["total_kwh"] == pytest.approx(12.0 * 24) and doc["runs"][0]["approved_by"] == "carol"


def test_setpoint_model_is_what_write_setpoints_takes() -> None:
    sp = Setpoint(asset_id="CT-01", tag="cws_setpoint", value=27.0, unit="degC")
    assert SetpointIn.model_validate(sp.model_dump(exclude={"current"})).tag == "cws_setpoint"


def test_chiller_problem_slsqp_beats_nothing_feasible_when_load_too_big() -> None:
    with pytest.raises(ValueError, match="capacity"):
        chiller_problems(default_chiller_plant(), 9000.0, 20.0, Band(5.5, 9), Band(20, 34))
    res = solve_slsqp(chiller_problems(default_chiller_plant(), 800.0, 15.0, Band(5.5, 9), Band(20, 34)), budget=50)
    assert res.evaluations <= 50


def test_compressor_surrogate_tool_keeps_the_pressure_floor(plant_db: Path) -> None:
    kg = KnowledgeStore(plant_db, read_only=True)
    res = optimize_compressed_air(ToolContext(kg=kg), 30.0, min_pressure_bar=6.2, model="surrogate")
    st = default_air_station()
    p = res.hours[0].setpoints["pressure_bar"]
    assert user_pressure_bar(st, 30.0, p) >= 6.2 - 1e-6 and p >= res.surrogate.box["pressure_bar"][0] - 1e-9
    assert any("pressure-drop model" in n for n in res.notes)
    kg.close()
