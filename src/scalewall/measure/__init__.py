"""Measure real runs on this machine's GPU, store them, and calibrate the planner from them.

PyTorch and nvidia-ml-py are optional (``pip install 'scalewall[measure]'``); nothing here
imports them until a measurement runs. The registry and calibration work without them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scalewall._lazy import lazy_getattr

if TYPE_CHECKING:
    from scalewall.measure._common import MeasureError as MeasureError
    from scalewall.measure._common import MeasureUnavailable as MeasureUnavailable
    from scalewall.measure._common import RegistryError as RegistryError
    from scalewall.measure._common import RegistryRefused as RegistryRefused
    from scalewall.measure.calibrate import CalibrationFit as CalibrationFit
    from scalewall.measure.calibrate import apply_calibration as apply_calibration
    from scalewall.measure.calibrate import calibrate_from_registry as calibrate_from_registry
    from scalewall.measure.calibrate import fit_gemm_rates as fit_gemm_rates
    from scalewall.measure.calibrate import load_calibration as load_calibration
    from scalewall.measure.energy import EnergyMeter as EnergyMeter
    from scalewall.measure.energy import open_energy_meter as open_energy_meter
    from scalewall.measure.probe import Probe as Probe
    from scalewall.measure.probe import RunSummary as RunSummary
    from scalewall.measure.probe import StepRecord as StepRecord
    from scalewall.measure.probe import count_flop as count_flop
    from scalewall.measure.registry import Registry as Registry
    from scalewall.measure.registry import default_registry_path as default_registry_path
    from scalewall.measure.registry import open_registry as open_registry
    from scalewall.measure.report import compare_run as compare_run
    from scalewall.measure.report import predict_run as predict_run

_EXPORTS = {
    "CalibrationFit": "scalewall.measure.calibrate",
    "EnergyMeter": "scalewall.measure.energy",
    "MeasureError": "scalewall.measure._common",
    "MeasureUnavailable": "scalewall.measure._common",
    "Probe": "scalewall.measure.probe",
    "Registry": "scalewall.measure.registry",
    "RegistryError": "scalewall.measure._common",
    "RegistryRefused": "scalewall.measure._common",
    "RunSummary": "scalewall.measure.probe",
    "StepRecord": "scalewall.measure.probe",
    "apply_calibration": "scalewall.measure.calibrate",
    "calibrate_from_registry": "scalewall.measure.calibrate",
    "compare_run": "scalewall.measure.report",
    "count_flop": "scalewall.measure.probe",
    "default_registry_path": "scalewall.measure.registry",
    "fit_gemm_rates": "scalewall.measure.calibrate",
    "load_calibration": "scalewall.measure.calibrate",
    "open_energy_meter": "scalewall.measure.energy",
    "open_registry": "scalewall.measure.registry",
    "predict_run": "scalewall.measure.report",
}
__all__ = [
    "CalibrationFit",
    "EnergyMeter",
    "MeasureError",
    "MeasureUnavailable",
    "Probe",
    "Registry",
    "RegistryError",
    "RegistryRefused",
    "RunSummary",
    "StepRecord",
    "apply_calibration",
    "calibrate_from_registry",
    "compare_run",
    "count_flop",
    "default_registry_path",
    "fit_gemm_rates",
    "load_calibration",
    "open_energy_meter",
    "open_registry",
    "predict_run",
]
__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())
