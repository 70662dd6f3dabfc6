"""The live plant: OPC UA simulator, connector into the KG, and the closed loop (``indagent demo``).

- :mod:`.model`: the demo plant continued past its history with a live fault (deterministic).
- :mod:`.simulator`: an asyncua server publishing the model in accelerated time.
- :mod:`.connector`: subscriptions -> bounded buffer -> idempotent KG inserts; reconnect + history backfill;
  setpoints back to the server.
- :mod:`.config`: endpoint, security, credentials (``INDAGENT_OPCUA_*``).
- :mod:`.watch`, :mod:`.steps`, :mod:`.actions`, :mod:`.report`: perceive -> decide -> approve -> act -> report.
- :mod:`.loop`: the demo (simulator + connector in one process); :mod:`.cycle`: one cycle on the KG (scheduled runs).
"""

from server.plant.config import OpcUaConfig, opcua_settings
from server.plant.connector import ConnectorStats, PlantConnector, SetpointAck, insert_readings, write_setpoints_once
from server.plant.cycle import resume_cycle, run_cycle
from server.plant.loop import LoopOptions, LoopResult, run_loop
from server.plant.model import LiveScenario, PlantModel, build_plant_model
from server.plant.simulator import PlantSimulator

__all__ = [
    "ConnectorStats",
    "LiveScenario",
    "LoopOptions",
    "LoopResult",
    "OpcUaConfig",
    "PlantConnector",
    "PlantModel",
    "PlantSimulator",
    "SetpointAck",
    "build_plant_model",
    "insert_readings",
    "opcua_settings",
    "resume_cycle",
    "run_cycle",
    "run_loop",
    "write_setpoints_once",
]
