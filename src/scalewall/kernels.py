"""Achievable time of one kernel: matrix multiplies by tile and wave, streams by bandwidth.

The datasheet rate is not the achievable one. A matrix multiply is cut into output tiles that
run one per compute unit (SM); the tiles run in *waves*, and a last partial wave leaves units
idle (wave quantization), each wave pays a prologue and epilogue, and large GEMMs run below
peak because clocks drop under the power limit. A memory-bound kernel moves its bytes at the
achievable share of memory bandwidth. Time is the larger of the two (roofline), smoothed near
the ridge where neither bound is reached, plus a launch.

References
----------
.. [1] NVIDIA, "Matrix Multiplication Background User's Guide" (tile and wave quantization),
   https://docs.nvidia.com/deeplearning/performance/dl-performance-matrix-multiplication/
.. [2] S. Williams, A. Waterman, D. Patterson, "Roofline: an insightful visual performance
   model for multicore architectures", CACM 52(4), 2009, doi:10.1145/1498765.1498785.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scalewall._types import ArrayLike, FloatArray, as_float
from scalewall.hardware import Accelerator, PlannerDefaults
from scalewall.units import BYTES_PER_ELEMENT

__all__ = [
    "DeviceRates", "device_rates", "matmul_time_s", "split_k_matmul_time_s", "stream_time_s",
]

# Output tile shapes a GEMM library chooses between (rows, cols). Smaller tiles fill more
# compute units on small problems but reuse each loaded operand less: their sustained rate is
# scaled by the tile's arithmetic intensity tm*tn/(tm+tn) relative to the largest tile, through
# a saturating curve i/(i + _TILE_INTENSITY_HALF).
_TILES = np.array([(128.0, 256.0), (256.0, 128.0), (128.0, 128.0), (64.0, 128.0), (64.0, 64.0)])
_TILE_INTENSITY_HALF = 8.0


def _tile_efficiency() -> FloatArray:
    intensity = _TILES[:, 0] * _TILES[:, 1] / (_TILES[:, 0] + _TILES[:, 1])
    curve = intensity / (intensity + _TILE_INTENSITY_HALF)
    out: FloatArray = curve / curve.max()
    return out


_TILE_EFF = _tile_efficiency()
_TM, _TN = _TILES[:, 0], _TILES[:, 1]
_TILE_FLOP = 2.0 * _TM * _TN  # FLOP of one tile per unit of k
# GPUs without a published compute-unit count are treated as this many units: large enough
# that wave quantization vanishes, as on systolic-array chips (TPU, Trainium) that tile
# differently.
_DEFAULT_UNITS = 1024


@dataclass(frozen=True)
class DeviceRates:
    """Achievable rates of one device at one precision, in SI units.

    Built by :func:`device_rates` from a catalog accelerator and the planner constants; a
    calibration (``scalewall calibrate``) replaces the efficiencies with measured ones.
    """

    peak_flop_per_s: float
    matmul_efficiency: float
    n_compute_units: int
    memory_bandwidth_bytes_per_s: float  # achievable, not datasheet
    scale_up_bytes_per_s: float  # achievable bus bandwidth per direction
    scale_up_domain: int
    scale_out_bytes_per_s: float
    devices_per_node: int
    attention_flop_per_s: float
    wave_overhead_s: float
    kernel_launch_s: float
    collective_latency_s: float
    bytes_per_element: float
    tiled: bool = True  # GPUs: output tiles in waves over SMs; systolic arrays stream instead
    ridge_exponent: float = float("inf")  # smooth max of compute and memory time; inf: max
    calibrated: bool = False


def device_rates(
    accelerator: Accelerator, defaults: PlannerDefaults, *, precision: str = "bf16"
) -> DeviceRates:
    """Achievable rates of ``accelerator`` at ``precision`` (datasheet x sourced efficiencies)."""
    peak = accelerator.peak(precision)
    # short-benchmark efficiency, lowered to what a board held at its power limit sustains
    sustained = defaults.sustained_compute_fraction
    measured = accelerator.matmul_efficiency_at(precision)
    efficiency = (measured or defaults.matmul_efficiency) * sustained
    # Chips without a separate scale-out network reach other nodes through the scale-up one.
    scale_out = accelerator.scale_out_bytes_per_s or accelerator.scale_up_bytes_per_s
    return DeviceRates(
        peak_flop_per_s=peak,
        matmul_efficiency=efficiency,
        # only GPUs tile a GEMM over SMs in waves; systolic arrays (TPU MXUs, Trainium, Gaudi
        # MMEs) stream the operands through a few large units instead
        n_compute_units=(accelerator.n_compute_units or _DEFAULT_UNITS)
        if accelerator.kind == "gpu" else _DEFAULT_UNITS,
        memory_bandwidth_bytes_per_s=memory_stream_bytes_per_s(accelerator, defaults),
        scale_up_bytes_per_s=accelerator.scale_up_bytes_per_s
        * (accelerator.scale_up_efficiency or defaults.scale_up_efficiency),
        scale_up_domain=max(accelerator.scale_up_domain, 1),
        scale_out_bytes_per_s=scale_out * defaults.scale_out_efficiency,
        devices_per_node=accelerator.devices_per_node,
        attention_flop_per_s=peak * sustained
        * (accelerator.attention_efficiency or defaults.attention_efficiency),
        wave_overhead_s=defaults.wave_overhead_s,
        kernel_launch_s=defaults.kernel_launch_s,
        collective_latency_s=accelerator.collective_latency_s or defaults.collective_latency_s,
        bytes_per_element=BYTES_PER_ELEMENT[
            "bf16" if precision in ("fp8", "fp4", "mxfp4") else precision],
        tiled=accelerator.kind == "gpu",
        ridge_exponent=defaults.ridge_exponent if accelerator.kind == "gpu" else float("inf"),
    )


def memory_stream_bytes_per_s(accelerator: Accelerator, defaults: PlannerDefaults) -> float:
    """Rate at which a streaming kernel reads device memory [B/s].

    The datasheet bandwidth times the achieved share (the chip's measured
    ``memory_bandwidth_efficiency`` where the catalog has one, else the planner's), or,
    where the chip moves data between HBM and its cores through DMA engines whose aggregate
    rate is lower (``dma_bandwidth_tb_per_s``: AWS NeuronCore-v2 chips, 16 engines of
    17 B/ns per core), that rate: weight streaming in decode cannot outrun the engines.

    >>> from scalewall.catalog import load_catalog
    >>> cat = load_catalog()
    >>> round(memory_stream_bytes_per_s(cat.accelerator("inferentia2"), cat.defaults) / 1e9)
    544
    >>> round(memory_stream_bytes_per_s(cat.accelerator("h100-sxm"), cat.defaults) / 1e9)
    2982
    """
    share = accelerator.memory_bandwidth_efficiency or defaults.memory_bandwidth_efficiency
    achieved = accelerator.memory_bandwidth_bytes_per_s * share
    if accelerator.dma_bytes_per_s is None:
        return achieved
    return min(achieved, accelerator.dma_bytes_per_s)


def matmul_time_s(
    m: ArrayLike, n: ArrayLike, k: ArrayLike, rates: DeviceRates, *, batch: ArrayLike = 1.0,
    operand_bytes: float | None = None,
) -> FloatArray:
    """Time of a (batched) matrix multiply ``[m, k] x [k, n]`` [s].

    Parameters
    ----------
    m, n, k : [elements] problem sizes; scalars or arrays that broadcast.
    rates : DeviceRates
    batch : independent multiplies in one launch (attention heads).
    operand_bytes : bytes per element of inputs and output; default the rates' precision.

    Returns
    -------
    time [s], the array shape of the broadcast inputs.

    Notes
    -----
    For each candidate tile :math:`(t_m, t_n)`, the number of waves is
    :math:`\\lceil \\lceil m/t_m \\rceil \\lceil n/t_n \\rceil b / U \\rceil` on :math:`U` units;
    each wave takes :math:`2 t_m t_n k / (\\eta_{tile} \\eta R / U) + t_{wave}`; the library is
    assumed to pick the fastest tile. The memory bound is
    :math:`(mk + kn + mn) b_e / B`. Time is their smooth maximum
    :math:`(t_c^p + t_m^p)^{1/p}` (``ridge_exponent``, fitted to measured GEMMs: near the ridge
    a kernel reaches neither bound; far from it, the larger), plus a launch [1]_ [2]_.

    Examples
    --------
    >>> from scalewall.catalog import load_catalog
    >>> cat = load_catalog()
    >>> r = device_rates(cat.accelerator("h200-sxm"), cat.defaults)
    >>> t = matmul_time_s(8192, 8192, 8192, r)
    >>> round(float(2 * 8192**3 / t / 1e12))  # sustained on one H200: 659 TFLOP/s
    651
    """
    m0, n0, k0 = (np.asarray(x, dtype=float) for x in (m, n, k))
    b0 = batch if type(batch) is float else np.asarray(batch, dtype=float)
    if rates.tiled:
        units = float(rates.n_compute_units)
        per_unit = rates.peak_flop_per_s * rates.matmul_efficiency / units
        b_ = b0 if type(b0) is float else b0[..., None]  # type: ignore[index]
        tiles = np.ceil(m0[..., None] / _TM) * np.ceil(n0[..., None] / _TN) * b_
        waves = np.ceil(tiles / units)
        wave_s = k0[..., None] * (_TILE_FLOP / (per_unit * _TILE_EFF)) + rates.wave_overhead_s
        compute_s = (waves * wave_s).min(axis=-1)
    else:
        # a systolic array keeps the weights stationary and streams the rows through: no
        # padding of small M to a tile (TPU MXU, Trainium, Gaudi MME, Groq)
        compute_s = 2.0 * m0 * n0 * k0 * b0 / (rates.peak_flop_per_s * rates.matmul_efficiency)
    element = rates.bytes_per_element if operand_bytes is None else operand_bytes
    bytes_moved = (m0 * k0 + k0 * n0 + m0 * n0) * (b0 * element)
    memory_s = bytes_moved / rates.memory_bandwidth_bytes_per_s
    out: FloatArray = _smooth_max(compute_s, memory_s, rates.ridge_exponent) + (
        rates.kernel_launch_s)
    return out


def _smooth_max(a: FloatArray, b: FloatArray, p: float) -> FloatArray:
    """:math:`(a^p + b^p)^{1/p}`, computed as ``hi (1 + (lo/hi)^p)^(1/p)`` (no overflow); the
    plain maximum for ``p = inf``."""
    hi = np.maximum(a, b)
    if not np.isfinite(p):
        return hi
    lo = np.minimum(a, b)
    with np.errstate(invalid="ignore", divide="ignore"):
        out: FloatArray = np.where(hi > 0.0, hi * (1.0 + (lo / hi) ** p) ** (1.0 / p), 0.0)
    return out


# Split-K factors a GEMM library may choose for skinny problems: the K dimension is cut into
# this many slices computed by separate tiles and summed (cuBLAS and CUTLASS "split-K"), so a
# GEMM with few output tiles still spreads its operand reads over every compute unit.
_SPLIT_K = np.array([1.0, 2.0, 4.0, 8.0, 16.0, 32.0])


def split_k_matmul_time_s(
    m: ArrayLike, n: ArrayLike, k: ArrayLike, rates: DeviceRates, *,
    operand_bytes: float | None = None, groups: ArrayLike = 1.0,
) -> FloatArray:
    """Time of ``[m, k] x [k, n]`` at the fastest split-K [s]: what a GEMM library's heuristic
    picks for skinny problems (decode, short prefill), as it picks the tile.

    Each split-K slice is a batched problem ``[m, k/s] x [k/s, n]`` (batch ``s``) in
    :func:`matmul_time_s`, which then also counts the ``s`` partial outputs it writes.
    ``groups`` same-shaped problems with their own weights run in the same launch, their tiles
    sharing the waves (a grouped GEMM, as the fused mixture-of-experts kernels of serving
    engines run every routed expert of a layer; may be fractional, an expected count).

    Examples
    --------
    A 128-token projection of a 70B model's MLP on one H100 (measured 327 us by Vidur's
    profiling, ``tests/reference/vidur_gemm.csv``; near the ridge, so the smooth maximum adds
    8% to the 325 us of the plain max):

    >>> from scalewall.catalog import load_catalog
    >>> cat = load_catalog()
    >>> r = device_rates(cat.accelerator("h100-sxm"), cat.defaults)
    >>> round(float(split_k_matmul_time_s(128, 57344, 8192, r)) * 1e6)
    351
    """
    m0, n0, k0, g0 = (np.asarray(x, dtype=float) for x in (m, n, k, groups))
    ndim = max(m0.ndim, n0.ndim, k0.ndim, g0.ndim)
    s = _SPLIT_K.reshape((-1,) + (1,) * ndim)  # (splits, *shape)
    out: FloatArray = matmul_time_s(m0, n0, np.maximum(k0 / s, 1.0), rates, batch=s * g0,
                                    operand_bytes=operand_bytes).min(axis=0)
    return out


def stream_time_s(n_bytes: ArrayLike, rates: DeviceRates) -> FloatArray:
    """Time to stream ``n_bytes`` through device memory at the achievable bandwidth [s]."""
    out: FloatArray = as_float(n_bytes) / rates.memory_bandwidth_bytes_per_s
    return out
