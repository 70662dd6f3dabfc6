"""Process optimization: first-principles models, surrogates, constrained setpoint optimization.

- :mod:`.chiller` / :mod:`.compressed_air`: first-principles models (units and curve sources in
  their docstrings).
- :mod:`.surrogate`: scikit-learn surrogates fitted to the KG's readings, with cross-validated
  error and a trust region.
- :mod:`.search` / :mod:`.problems` / :mod:`.optimize`: budgeted multi-start SLSQP (smooth
  models), differential evolution (surrogates), random search (the eval's baseline).
- :mod:`.plot`: before/after PNG and HTML. :mod:`.kg`: reading chillers/compressors from the KG.
- :mod:`.agent_tools`: the ``@tool`` functions listed in :data:`TOOLS`.
"""

from tools.optimization.agent_tools import (
    RunSaving,
    SavingsReport,
    SetpointIn,
    StoredSetpoint,
    WriteSetpointsResult,
    optimization_savings,
    optimize_chiller_plant,
    optimize_compressed_air,
    setpoint_limits,
    write_setpoints,
)
from tools.optimization.chiller import ChillerPlant, ChillerSpec, default_chiller_plant
from tools.optimization.compressed_air import AirStation, CompressorSpec, default_air_station
from tools.optimization.optimize import (
    HourPlan,
    Objective,
    OptimizationResult,
    Saving,
    Setpoint,
    Spread,
    SurrogateInfo,
    optimize_air,
    optimize_chillers,
)
from tools.optimization.surrogate import Surrogate, fit_surrogate, optimize_surrogate

__all__ = [
    "TOOLS",
    "AirStation",
    "ChillerPlant",
    "ChillerSpec",
    "CompressorSpec",
    "HourPlan",
    "Objective",
    "OptimizationResult",
    "RunSaving",
    "Saving",
    "SavingsReport",
    "Setpoint",
    "SetpointIn",
    "Spread",
    "StoredSetpoint",
    "Surrogate",
    "SurrogateInfo",
    "WriteSetpointsResult",
    "default_air_station",
    "default_chiller_plant",
    "fit_surrogate",
    "optimization_savings",
    "optimize_air",
    "optimize_chiller_plant",
    "optimize_chillers",
    "optimize_compressed_air",
    "optimize_surrogate",
    "setpoint_limits",
    "write_setpoints",
]

#: The ``@tool`` functions of this package (the registry reads this list).
TOOLS = [optimize_chiller_plant, optimize_compressed_air, optimization_savings, write_setpoints]
