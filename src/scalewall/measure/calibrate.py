"""Fit the planner's achievable rates to measured GEMM times, and use the fit in later plans.

The model fitted is the planner's own, :func:`scalewall.kernels.matmul_time_s`: a GEMM takes
the larger of its tiled compute time at ``matmul_efficiency`` of the datasheet peak and its
operand traffic at the achievable memory bandwidth, plus a fixed per-kernel cost. Three of its
parameters are fitted to a stored GEMM profile (``scalewall measure gemm``): the matmul
efficiency, the memory-bandwidth efficiency (share of the datasheet bandwidth) and the
per-kernel overhead ``kernel_launch_s``; the rest (tile shapes, wave overhead) stay as the
catalog has them.

Fit: least squares of the relative residuals :math:`r_i = \\hat t_i / t_i - 1`. For given
efficiencies the kernel overhead :math:`c` enters linearly, :math:`\\hat t_i = f_i + c`, so it
has a closed form, :math:`c = \\sum w_i (1 - w_i f_i) / \\sum w_i^2` with :math:`w_i = 1/t_i`
(clipped at zero); the two efficiencies are found by a coarse-to-fine grid in log space, which
suits a model made of maxima, minima and ceilings (continuous in the efficiencies but not
smooth), and needs no optimizer dependency.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scalewall._errors import InvalidParameter
from scalewall._types import FloatArray
from scalewall.catalog import Catalog, get_catalog
from scalewall.kernels import DeviceRates, device_rates, matmul_time_s
from scalewall.measure._common import MeasureError
from scalewall.measure.registry import Registry, open_registry

__all__ = [
    "CalibrationFit",
    "apply_calibration",
    "calibrate_from_registry",
    "fit_gemm_rates",
    "load_calibration",
]

# Search box of the fit: wide enough for a CPU dry run (efficiency 1e-4 of a GPU's peak) and
# for a device that beats its catalog figures (1.5x).
_EFFICIENCY_RANGE = (1e-5, 1.5)
_GRID = 41
_REFINE_LEVELS = 5
_REFINE_GRID = 21


@dataclass(frozen=True)
class CalibrationFit:
    """Fitted rates of one device at one precision, and how well they fit."""

    hardware: str
    precision: str
    matmul_efficiency: float
    memory_bandwidth_efficiency: float  # of the datasheet bandwidth
    memory_bandwidth_bytes_per_s: float
    kernel_launch_s: float
    n_samples: int
    rms_relative_error: float
    max_abs_relative_error: float
    relative_errors: tuple[float, ...]  # predicted / measured - 1, per sample, after the fit
    uncalibrated_rms_relative_error: float

    def params(self) -> dict[str, float]:
        """What :func:`apply_calibration` needs."""
        return {"matmul_efficiency": self.matmul_efficiency,
                "memory_bandwidth_efficiency": self.memory_bandwidth_efficiency,
                "kernel_launch_s": self.kernel_launch_s}

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["relative_errors"] = list(self.relative_errors)
        return out


def apply_calibration(base: DeviceRates, params: Mapping[str, float], *,
                      datasheet_bandwidth_bytes_per_s: float) -> DeviceRates:
    """``base`` with the fitted efficiencies and kernel overhead, marked calibrated."""
    return dataclasses.replace(
        base,
        matmul_efficiency=float(params["matmul_efficiency"]),
        memory_bandwidth_bytes_per_s=float(params["memory_bandwidth_efficiency"])
        * datasheet_bandwidth_bytes_per_s,
        kernel_launch_s=float(params["kernel_launch_s"]),
        calibrated=True,
    )


def _launch_and_residuals(no_launch_s: FloatArray, measured_s: FloatArray
                          ) -> tuple[float, FloatArray]:
    w = 1.0 / measured_s
    launch = float(np.sum(w * (1.0 - w * no_launch_s)) / np.sum(w * w))
    launch = max(launch, 0.0)
    return launch, (no_launch_s + launch) * w - 1.0


def fit_gemm_rates(
    m: Sequence[float] | FloatArray, n: Sequence[float] | FloatArray,
    k: Sequence[float] | FloatArray, duration_s: Sequence[float] | FloatArray,
    base: DeviceRates, *, datasheet_bandwidth_bytes_per_s: float, hardware: str = "",
    precision: str = "bf16",
) -> CalibrationFit:
    """Fit matmul efficiency, bandwidth efficiency and kernel overhead to GEMM times.

    Parameters
    ----------
    m, n, k : [elements] GEMM shapes ``[m, k] x [k, n]``, one per sample.
    duration_s : [s] measured time of one GEMM, per sample.
    base : the uncalibrated rates of the device at this precision (the fixed parameters).
    datasheet_bandwidth_bytes_per_s : [B/s] the catalog's memory bandwidth.

    Returns
    -------
    CalibrationFit

    Examples
    --------
    >>> from scalewall.catalog import load_catalog
    >>> cat = load_catalog()
    >>> acc = cat.accelerator("h200-sxm")
    >>> base = device_rates(acc, cat.defaults)
    >>> true = dataclasses.replace(base, matmul_efficiency=0.6, kernel_launch_s=6e-6)
    >>> shapes = [(s, s, s) for s in (512, 1024, 2048, 4096, 8192)] + [(8, 8192, 8192)]
    >>> t = [float(matmul_time_s(*s, true)) for s in shapes]
    >>> fit = fit_gemm_rates(*zip(*shapes), t, base,
    ...                      datasheet_bandwidth_bytes_per_s=acc.memory_bandwidth_bytes_per_s)
    >>> round(fit.matmul_efficiency, 3), round(fit.kernel_launch_s * 1e6, 2)
    (0.6, 6.0)
    """
    M, N, K, T = (np.asarray(x, dtype=float).ravel() for x in (m, n, k, duration_s))
    if not (M.size == N.size == K.size == T.size) or M.size < 3:
        raise InvalidParameter(
            f"fit_gemm_rates needs at least 3 samples with m, n, k and duration_s of one "
            f"length; got {M.size}, {N.size}, {K.size}, {T.size}")
    if not np.all(np.isfinite(T) & (T > 0)) or np.any(np.minimum(M, np.minimum(N, K)) < 1):
        raise InvalidParameter("GEMM samples need positive sizes and durations")
    datasheet = float(datasheet_bandwidth_bytes_per_s)

    def evaluate(eff: float, bw_eff: float) -> tuple[float, float, FloatArray]:
        rates = dataclasses.replace(base, matmul_efficiency=eff,
                                    memory_bandwidth_bytes_per_s=bw_eff * datasheet,
                                    kernel_launch_s=0.0)
        launch, r = _launch_and_residuals(matmul_time_s(M, N, K, rates), T)
        return float(np.sum(r * r)), launch, r

    lo, hi = np.log(_EFFICIENCY_RANGE[0]), np.log(_EFFICIENCY_RANGE[1])
    e_axis = b_axis = np.linspace(lo, hi, _GRID)
    best = (np.inf, 0.0, 0.0)
    for level in range(_REFINE_LEVELS + 1):
        for le in e_axis:
            for lb in b_axis:
                sse = evaluate(float(np.exp(le)), float(np.exp(lb)))[0]
                if sse < best[0]:
                    best = (sse, float(le), float(lb))
        if level == _REFINE_LEVELS:
            break
        step_e = (e_axis[1] - e_axis[0]) * 2.0
        step_b = (b_axis[1] - b_axis[0]) * 2.0
        e_axis = np.linspace(max(best[1] - step_e, lo), min(best[1] + step_e, hi),
                             _REFINE_GRID)
        b_axis = np.linspace(max(best[2] - step_b, lo), min(best[2] + step_b, hi),
                             _REFINE_GRID)
    eff, bw_eff = float(np.exp(best[1])), float(np.exp(best[2]))
    _, launch, resid = evaluate(eff, bw_eff)
    base_resid = matmul_time_s(M, N, K, base) / T - 1.0
    return CalibrationFit(
        hardware=hardware, precision=precision, matmul_efficiency=eff,
        memory_bandwidth_efficiency=bw_eff, memory_bandwidth_bytes_per_s=bw_eff * datasheet,
        kernel_launch_s=launch, n_samples=int(M.size),
        rms_relative_error=float(np.sqrt(np.mean(resid * resid))),
        max_abs_relative_error=float(np.max(np.abs(resid))),
        relative_errors=tuple(float(x) for x in resid),
        uncalibrated_rms_relative_error=float(np.sqrt(np.mean(base_resid * base_resid))),
    )


def _registry(registry: Registry | str | Path | None) -> tuple[Registry, bool]:
    if isinstance(registry, Registry):
        return registry, False
    return open_registry(registry, must_exist=True), True


def calibrate_from_registry(
    name: str, *, registry: Registry | str | Path | None = None, hardware: str | None = None,
    precision: str = "bf16", runs: Sequence[int | str] = (), catalog: Catalog | None = None,
) -> CalibrationFit:
    """Fit the GEMM samples of stored profiles and store the fit as calibration ``name``.

    Parameters
    ----------
    name : the calibration's name, for ``--calibration NAME``.
    hardware : catalog accelerator; default the hardware of the newest GEMM profile.
    precision : which samples to fit (``bf16``, ``fp16``, ``fp32`` ...).
    runs : GEMM profile runs to use; default every GEMM profile of that hardware.
    """
    cat = catalog or get_catalog()
    reg, close = _registry(registry)
    try:
        profiles = reg.list_runs(kind="gemm", hardware=hardware)
        if runs:
            ids = [reg.get_run(r)["id"] for r in runs]
        else:
            if hardware is None and profiles:
                hardware = profiles[0]["hardware"]
            ids = [p["id"] for p in profiles if p["hardware"] == hardware]
        if not ids:
            raise MeasureError(
                f"no GEMM profile{' for ' + hardware if hardware else ''} in {reg.path}; "
                f"run `scalewall measure gemm` first")
        samples = [s for s in reg.gemm_samples(ids) if s["precision"] == precision]
        if hardware is None:
            hardware = reg.get_run(ids[0])["hardware"]
        if not hardware:
            raise MeasureError(
                "the GEMM profile names no catalog accelerator; pass --hardware")
        if len(samples) < 3:
            have = sorted({s["precision"] for s in reg.gemm_samples(ids)})
            raise MeasureError(
                f"{len(samples)} {precision} GEMM samples in runs {ids}; at least 3 are needed "
                f"(precisions present: {', '.join(have) or 'none'})")
        accel = cat.accelerator(hardware)
        base = device_rates(accel, cat.defaults, precision=precision)
        fit = fit_gemm_rates(
            [s["m"] for s in samples], [s["n"] for s in samples], [s["k"] for s in samples],
            [s["duration_s"] for s in samples], base,
            datasheet_bandwidth_bytes_per_s=accel.memory_bandwidth_bytes_per_s,
            hardware=accel.id, precision=precision)
        reg.save_calibration(name, hardware=accel.id, precision=precision, params=fit.params(),
                             fit=fit.to_dict(), source_runs=ids)
        return fit
    finally:
        if close:
            reg.close()


def load_calibration(name: str, *, registry: Registry | str | Path | None = None,
                     hardware: str | None = None, precision: str | None = None,
                     catalog: Catalog | None = None) -> DeviceRates:
    """The device rates of calibration ``name``, for ``plan_training(..., rates=...)``.

    The plan then reports ``calibrated: true``. Give ``hardware`` and ``precision`` (those of
    the plan) to have a mismatch refused rather than silently planned with another chip's
    rates.

    Raises
    ------
    RegistryError
        No calibration of that name (the message lists the known ones).
    InvalidParameter
        The calibration is of another accelerator or precision than asked for.
    """
    cat = catalog or get_catalog()
    reg, close = _registry(registry)
    try:
        entry = reg.get_calibration(name)
    finally:
        if close:
            reg.close()
    accel = cat.accelerator(entry["hardware"])
    if hardware is not None and cat.accelerator(hardware).id != accel.id:
        raise InvalidParameter(
            f"calibration {name!r} was fitted on {accel.id}, not {hardware}; calibrate on "
            f"that device or leave --calibration out")
    if precision is not None and precision != entry["precision"]:
        raise InvalidParameter(
            f"calibration {name!r} was fitted at {entry['precision']}, not {precision}; run "
            f"`scalewall calibrate --precision {precision}` on a profile with those GEMMs")
    base = device_rates(accel, cat.defaults, precision=entry["precision"])
    return apply_calibration(base, entry["params"],
                             datasheet_bandwidth_bytes_per_s=accel.memory_bandwidth_bytes_per_s)
