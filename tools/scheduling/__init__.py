"""Production scheduling: flexible job shop with CP-SAT, repair after events, maintenance windows.

Public API (see docs/scheduling.md):

- data: :class:`Instance`, :class:`Job`, :class:`Operation`, :class:`Alternative`,
  :class:`Downtime`, :class:`ScheduledOp`, :class:`Solution`, :class:`Violation`;
- :func:`load_instance` / :func:`parse_instance` (orlib, taillard, brandimarte, json);
- :func:`solve` (CP-SAT, strong model), :func:`validate`, :func:`best_dispatch`;
- :func:`reschedule` with :class:`MachineDown`, :class:`RushOrder`, :class:`OperationLate`;
- :func:`insert_maintenance`; :func:`write_gantt`, :func:`gantt_png`, :func:`gantt_html`;
- KG tools (``TOOLS``): :func:`schedule_production`, :func:`earliest_maintenance_slot`,
  :func:`publish_schedule` (mutating).
"""

from tools.scheduling.gantt import gantt_html, gantt_png, write_gantt
from tools.scheduling.heuristics import best_dispatch, dispatch, repair
from tools.scheduling.kg import DowntimeWindow, KgInstance, ProductionSchedule, instance_from_kg, plan_from_solution
from tools.scheduling.maintenance import MaintenanceResult, find_idle_gap, insert_maintenance
from tools.scheduling.model import (
    Alternative,
    Downtime,
    Instance,
    Job,
    Objective,
    Operation,
    ScheduledOp,
    Solution,
    Violation,
)
from tools.scheduling.parsers import InstanceFormat, InstanceFormatError, load_instance, parse_instance
from tools.scheduling.plant import (
    MaintenanceSlot,
    PublishResult,
    earliest_maintenance_slot,
    publish_schedule,
    schedule_production,
)
from tools.scheduling.reschedule import (
    Event,
    MachineDown,
    OperationLate,
    RescheduleResult,
    RushOrder,
    reschedule,
)
from tools.scheduling.solver import JobShopModel, solve
from tools.scheduling.validate import validate

#: The @tool functions of this package (the registry reads this list).
TOOLS = [schedule_production, earliest_maintenance_slot, publish_schedule]

__all__ = [
    "TOOLS",
    "Alternative",
    "Downtime",
    "DowntimeWindow",
    "Event",
    "Instance",
    "InstanceFormat",
    "InstanceFormatError",
    "Job",
    "JobShopModel",
    "KgInstance",
    "MachineDown",
    "MaintenanceResult",
    "MaintenanceSlot",
    "Objective",
    "Operation",
    "OperationLate",
    "ProductionSchedule",
    "PublishResult",
    "RescheduleResult",
    "RushOrder",
    "ScheduledOp",
    "Solution",
    "Violation",
    "best_dispatch",
    "dispatch",
    "earliest_maintenance_slot",
    "find_idle_gap",
    "gantt_html",
    "gantt_png",
    "insert_maintenance",
    "instance_from_kg",
    "load_instance",
    "parse_instance",
    "plan_from_solution",
    "publish_schedule",
    "repair",
    "reschedule",
    "schedule_production",
    "solve",
    "validate",
    "write_gantt",
]
