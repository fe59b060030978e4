"""The wall: year-by-year projection of the largest feasible frontier training run under power,
chip, data, capital and latency constraints, with Monte Carlo uncertainty and scenarios.

Inputs and scenarios live in ``catalog/wall/*.toml`` (each with its source); see
``docs/wall.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scalewall._lazy import lazy_getattr

if TYPE_CHECKING:
    from scalewall.wall.constraints import capital_limited_flop as capital_limited_flop
    from scalewall.wall.constraints import chip_limited_flop as chip_limited_flop
    from scalewall.wall.constraints import data_limited_flop as data_limited_flop
    from scalewall.wall.constraints import epoch_multiplier as epoch_multiplier
    from scalewall.wall.constraints import latency_limited_flop as latency_limited_flop
    from scalewall.wall.constraints import power_limited_flop as power_limited_flop
    from scalewall.wall.constraints import trend_flop as trend_flop
    from scalewall.wall.exhaustion import ExhaustionResult as ExhaustionResult
    from scalewall.wall.exhaustion import data_exhaustion_year as data_exhaustion_year
    from scalewall.wall.inputs import INPUTS as INPUTS
    from scalewall.wall.inputs import Correlation as Correlation
    from scalewall.wall.inputs import Distribution as Distribution
    from scalewall.wall.montecarlo import CONSTRAINTS as CONSTRAINTS
    from scalewall.wall.montecarlo import Sensitivity as Sensitivity
    from scalewall.wall.montecarlo import WallResult as WallResult
    from scalewall.wall.montecarlo import parse_years as parse_years
    from scalewall.wall.montecarlo import project as project
    from scalewall.wall.scenarios import Scenario as Scenario
    from scalewall.wall.scenarios import list_scenarios as list_scenarios
    from scalewall.wall.scenarios import load_scenario as load_scenario

_EXPORTS = {
    "CONSTRAINTS": "scalewall.wall.montecarlo",
    "Correlation": "scalewall.wall.inputs",
    "Distribution": "scalewall.wall.inputs",
    "ExhaustionResult": "scalewall.wall.exhaustion",
    "INPUTS": "scalewall.wall.inputs",
    "Scenario": "scalewall.wall.scenarios",
    "Sensitivity": "scalewall.wall.montecarlo",
    "WallResult": "scalewall.wall.montecarlo",
    "capital_limited_flop": "scalewall.wall.constraints",
    "chip_limited_flop": "scalewall.wall.constraints",
    "data_exhaustion_year": "scalewall.wall.exhaustion",
    "data_limited_flop": "scalewall.wall.constraints",
    "epoch_multiplier": "scalewall.wall.constraints",
    "latency_limited_flop": "scalewall.wall.constraints",
    "list_scenarios": "scalewall.wall.scenarios",
    "load_scenario": "scalewall.wall.scenarios",
    "parse_years": "scalewall.wall.montecarlo",
    "power_limited_flop": "scalewall.wall.constraints",
    "project": "scalewall.wall.montecarlo",
    "trend_flop": "scalewall.wall.constraints",
}
__all__ = [
    "CONSTRAINTS",
    "INPUTS",
    "Correlation",
    "Distribution",
    "ExhaustionResult",
    "Scenario",
    "Sensitivity",
    "WallResult",
    "capital_limited_flop",
    "chip_limited_flop",
    "data_exhaustion_year",
    "data_limited_flop",
    "epoch_multiplier",
    "latency_limited_flop",
    "list_scenarios",
    "load_scenario",
    "parse_years",
    "power_limited_flop",
    "project",
    "trend_flop",
]
__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())
