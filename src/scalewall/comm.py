"""Time of collective communication over the link a group crosses.

Ring algorithms (Patarasuk & Yuan 2009): an all-reduce moves :math:`2(n-1)/n` of the buffer
through each device's link, an all-gather or reduce-scatter :math:`(n-1)/n`, an all-to-all
:math:`(n-1)/n` of what each device sends. Bandwidths are achievable bus bandwidths per
direction (see :class:`scalewall.kernels.DeviceRates`). A group larger than the scale-up domain
crosses the scale-out network, whose per-device bandwidth then bounds the ring.

References
----------
.. [1] P. Patarasuk, X. Yuan, "Bandwidth optimal all-reduce algorithms for clusters of
   workstations", J. Parallel Distrib. Comput. 69(2), 2009, doi:10.1016/j.jpdc.2008.09.002.
"""

from __future__ import annotations

import numpy as np

from scalewall._types import ArrayLike, FloatArray, as_float, maximum, where
from scalewall.kernels import DeviceRates

__all__ = [
    "all_gather_time_s",
    "all_reduce_time_s",
    "all_to_all_time_s",
    "group_bandwidth_bytes_per_s",
    "p2p_time_s",
    "reduce_scatter_time_s",
]


def group_bandwidth_bytes_per_s(
    group_size: ArrayLike, stride: ArrayLike, rates: DeviceRates
) -> FloatArray:
    """Per-device bandwidth of a group of ``group_size`` devices spaced ``stride`` ranks apart.

    The group stays on the scale-up fabric when its span ``group_size * stride`` fits in the
    scale-up domain; otherwise it crosses the scale-out network.
    """
    if not (isinstance(group_size, np.ndarray) or isinstance(stride, np.ndarray)):  # one plan
        inside = group_size * stride <= rates.scale_up_domain
        return rates.scale_up_bytes_per_s if inside else rates.scale_out_bytes_per_s  # type: ignore[return-value]
    span = as_float(group_size) * as_float(stride)
    out: FloatArray = where(
        span <= rates.scale_up_domain, rates.scale_up_bytes_per_s, rates.scale_out_bytes_per_s
    )
    return out


def _ring(steps: FloatArray, n_bytes: ArrayLike, n: FloatArray, bandwidth: ArrayLike,
          rates: DeviceRates) -> FloatArray:
    """Alpha-beta cost of a ring: ``steps`` steps of ``n_bytes / n`` each, each step paying the
    link latency, plus the launch of the collective's kernel."""
    moved = steps / n * as_float(n_bytes)
    bw = as_float(bandwidth)
    fixed = steps * rates.collective_latency_s + rates.kernel_launch_s
    if not (isinstance(bw, np.ndarray) or isinstance(n, np.ndarray)):  # one plan
        return moved / bw + fixed if n > 1 else 0.0 * moved
    with np.errstate(divide="ignore", invalid="ignore"):
        out: FloatArray = where(n > 1, moved / bw + fixed, 0.0)
    return out


def all_reduce_time_s(
    n_bytes: ArrayLike, n: ArrayLike, bandwidth: ArrayLike, rates: DeviceRates
) -> FloatArray:
    """Ring all-reduce of an ``n_bytes`` buffer over ``n`` devices [s]: :math:`2(n-1)/n` of it."""
    n_ = maximum(as_float(n), 1.0)
    return _ring(2.0 * (n_ - 1.0), n_bytes, n_, bandwidth, rates)


def all_gather_time_s(
    n_bytes: ArrayLike, n: ArrayLike, bandwidth: ArrayLike, rates: DeviceRates
) -> FloatArray:
    """Ring all-gather producing an ``n_bytes`` buffer on each of ``n`` devices [s]."""
    n_ = maximum(as_float(n), 1.0)
    return _ring(n_ - 1.0, n_bytes, n_, bandwidth, rates)


reduce_scatter_time_s = all_gather_time_s
"""Ring reduce-scatter of an ``n_bytes`` buffer over ``n`` devices [s] (as all-gather)."""


def all_to_all_time_s(
    n_bytes: ArrayLike, n: ArrayLike, bandwidth: ArrayLike, rates: DeviceRates
) -> FloatArray:
    """All-to-all where each device sends ``n_bytes`` in all, :math:`(n-1)/n` off-device [s]."""
    n_ = maximum(as_float(n), 1.0)
    return _ring(n_ - 1.0, n_bytes, n_, bandwidth, rates)


def p2p_time_s(n_bytes: ArrayLike, bandwidth: ArrayLike, rates: DeviceRates) -> FloatArray:
    """Point-to-point send of ``n_bytes`` [s]."""
    out: FloatArray = as_float(n_bytes) / np.asarray(bandwidth) + (
        rates.collective_latency_s
    )
    return out
