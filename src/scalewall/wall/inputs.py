"""Inputs of the wall model: their names and units, distributions given by percentiles, and
correlated sampling through a Gaussian copula.

Every input is a :class:`Distribution` fixed by its 10th, 50th and 90th percentiles (the 80%
intervals Epoch AI publishes). It is sampled as a *split normal*: a normal with one standard
deviation below the median and another above it, in log space (``scale="log"``, for positive
quantities spanning orders of magnitude) or in linear space. Each draw is a monotone transform
of one standard-normal variate, so correlating the variates with a Gaussian copula gives the
published Spearman rank correlations exactly (Pearson r = 2 sin(pi rho_s / 6)).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from scalewall._errors import InvalidParameter

__all__ = [
    "INPUTS",
    "Z_P90",
    "Correlation",
    "Distribution",
    "InputSpec",
    "copula_cholesky",
    "sample_inputs",
]

#: The standard-normal 90th percentile: p10 and p90 sit this many sigmas from the median.
Z_P90 = 1.2815515655446004


@dataclass(frozen=True)
class InputSpec:
    """What an input means: its unit and the range a draw may take."""

    unit: str
    description: str
    low: float = 0.0  # draws below are invalid (a percentile below is an error)
    high: float = math.inf  # draws above are clipped (fractions stop at 1)
    strictly_positive: bool = True


def _g(description: str) -> InputSpec:
    return InputSpec("1/yr", description, low=0.0)


def _frac(description: str) -> InputSpec:
    return InputSpec("1", description, high=1.0)


#: The inputs the model reads; scenario files give each a distribution.
INPUTS: dict[str, InputSpec] = {
    # shared
    "training_duration_s": InputSpec("s", "training run duration"),
    "largest_run_share": _frac("share of AI compute, chips or power given to the largest run"),
    "peak_flop_per_s_2024": InputSpec("FLOP/s", "peak FLOP/s of a 2024 H100-equivalent (FP8)"),
    "mfu": _frac("model FLOP utilisation of the run"),
    # power
    "power_per_chip_w": InputSpec("W", "installed power per H100e incl. server, network, PUE"),
    "flop_per_j_growth": _g("growth of FLOP/s per W"),
    "ai_dc_power_2024_w": InputSpec("W", "US AI data-centre capacity, end 2023"),
    "dc_power_2024_w": InputSpec("W", "US total data-centre capacity, end 2023"),
    "dc_power_growth": _g("growth of US total data-centre capacity"),
    "non_ai_dc_power_growth": _g("growth of US non-AI data-centre capacity"),
    "largest_campus_2030_w": InputSpec("W", "largest single campus in 2030"),
    # chips
    "chip_stock_2024": InputSpec("H100e", "installed AI accelerators, end 2023"),
    "chip_production_2024_per_yr": InputSpec("H100e/yr", "annualised production, end 2023"),
    "chip_production_growth": _g("growth of accelerator production (chip count)"),
    "chip_perf_growth": _g("growth of FLOP/s per chip"),
    "wafers_2024_per_yr": InputSpec("wafers/yr", "leading-edge wafer output"),
    "wafer_capex_growth": _g("growth of foundry capex"),
    "wafer_volume_capex_ratio": InputSpec("1", "wafer-volume growth per capex growth"),
    "dies_per_wafer": InputSpec("1", "good accelerator dies per wafer"),
    "wafer_share_to_ai": _frac("share of leading-edge wafers available to AI accelerators"),
    # data
    "text_stock_tokens": InputSpec("tokens", "stock of internet text"),
    "image_stock": InputSpec("images", "stock of images"),
    "video_stock_s": InputSpec("s", "stock of video"),
    "audio_stock_s": InputSpec("s", "stock of audio"),
    "tokens_per_image": InputSpec("tokens", "tokens per image or per second of video"),
    "tokens_per_audio_s": InputSpec("tokens/s", "tokens per second of audio"),
    "data_stock_growth": _g("growth of the data stock"),
    "data_quality_share": _frac("share of the stock worth training on"),
    "epochs": InputSpec("1", "passes over the unique data (Muennighoff-discounted)", low=1.0,
                        strictly_positive=False),
    "overtraining_factor": InputSpec("1", "tokens per parameter over 20 (Sardana)"),
    "synthetic_token_share": InputSpec("1", "share of training tokens that are synthetic",
                                       high=0.999, strictly_positive=False),
    "synthetic_compute_ratio": InputSpec("1", "generation FLOP per training FLOP if all "
                                         "data were synthetic", strictly_positive=False),
    # capital
    "cluster_budget_2024_usd": InputSpec("USD", "accelerator budget of the 2024 frontier run"),
    "budget_growth": _g("growth of the largest run's hardware budget"),
    "chip_price_2024_usd": InputSpec("USD", "price of a 2024 H100-equivalent"),
    "chip_price_growth": _g("growth of the price per chip"),
    # latency
    "batch_tokens": InputSpec("tokens", "largest efficient global batch"),
    "layer_scaling_exponent": InputSpec("1", "doublings of layers per doubling of N"),
    "kernel_latency_s": InputSpec("s", "GPU kernel launch latency"),
    "base_comm_latency_s": InputSpec("s", "base collective latency"),
    "nvlink_latency_s": InputSpec("s", "NVLink latency per rank"),
    "infiniband_latency_s": InputSpec("s", "InfiniBand latency per log2 of nodes"),
    "min_tokens_per_gpu": InputSpec("tokens", "smallest efficient per-GPU mini-batch"),
    # levers
    "algorithmic_efficiency_growth": InputSpec("1/yr", "effective-compute multiplier per year",
                                               low=1.0, strictly_positive=False),
}


@dataclass(frozen=True)
class Distribution:
    """A quantity known by its 10th, 50th and 90th percentiles.

    Sampled as a split normal in log space (``scale="log"``) or linear space; ``p10 == p50 ==
    p90`` is a constant.
    """

    p10: float
    p50: float
    p90: float
    scale: str = "log"
    source_url: str = ""
    source_title: str = ""
    retrieved: str = ""
    note: str = ""

    @property
    def is_constant(self) -> bool:
        return self.p10 == self.p50 == self.p90

    def sigmas(self) -> tuple[float, float, float]:
        """(centre, sigma below, sigma above) in the sampling space."""
        if self.scale == "log":
            lo, mid, hi = math.log(self.p10), math.log(self.p50), math.log(self.p90)
        else:
            lo, mid, hi = self.p10, self.p50, self.p90
        return mid, (mid - lo) / Z_P90, (hi - mid) / Z_P90

    def from_normal(self, z: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """Quantiles at standard-normal variates ``z`` (any shape, dtype kept)."""
        mid, s_lo, s_hi = self.sigmas()
        dt = z.dtype.type
        x: npt.NDArray[Any] = dt(mid) + z * np.where(z < 0, dt(s_lo), dt(s_hi))
        out: npt.NDArray[Any] = np.exp(x) if self.scale == "log" else x
        return out

    def check(self, name: str, spec: InputSpec, *, where: str) -> None:
        """Raise :class:`InvalidParameter` for inconsistent or out-of-range percentiles."""
        values = {"p10": self.p10, "p50": self.p50, "p90": self.p90}
        for key, value in values.items():
            if not math.isfinite(value):
                raise InvalidParameter(f"{where}: {name}.{key} must be finite, got {value!r}")
        if not self.p10 <= self.p50 <= self.p90:
            raise InvalidParameter(
                f"{where}: {name} percentiles must satisfy p10 <= p50 <= p90, got p10="
                f"{self.p10:g}, p50={self.p50:g}, p90={self.p90:g}"
            )
        if self.scale not in ("log", "linear"):
            raise InvalidParameter(
                f"{where}: {name}.scale must be 'log' or 'linear', got {self.scale!r}")
        floor = spec.low
        if spec.strictly_positive and self.p10 <= floor:
            raise InvalidParameter(
                f"{where}: {name} is a quantity that must be > {floor:g} [{spec.unit}], got "
                f"p10={self.p10:g}")
        if self.p10 < floor:
            raise InvalidParameter(
                f"{where}: {name} must be >= {floor:g} [{spec.unit}], got p10={self.p10:g}")
        if self.p50 > spec.high:
            raise InvalidParameter(
                f"{where}: {name} must be <= {spec.high:g} [{spec.unit}], got p50={self.p50:g}")
        if self.scale == "linear" and not self.is_constant:
            # a linear split normal has an unbounded lower tail: refuse one that crosses the
            # floor within 4 sigma (about 3 draws in 100,000) rather than clip silently
            mid, s_lo, _ = self.sigmas()
            if mid - 4.0 * s_lo < floor and (spec.strictly_positive or floor > 0):
                raise InvalidParameter(
                    f"{where}: {name} with scale='linear' would draw values below {floor:g} "
                    f"(p50 - 4 sigma = {mid - 4.0 * s_lo:g}); narrow p10 or use scale='log'")


@dataclass(frozen=True)
class Correlation:
    """A Spearman rank correlation between two inputs."""

    a: str
    b: str
    spearman: float
    source_url: str = ""
    source_title: str = ""
    retrieved: str = ""
    note: str = ""


def copula_cholesky(
    names: Sequence[str], correlations: Sequence[Correlation], *, where: str = "correlations",
) -> npt.NDArray[np.float64]:
    """Lower Cholesky factor of the Gaussian-copula matrix over ``names``.

    Notes
    -----
    A Gaussian copula with Pearson correlation :math:`r` has Spearman correlation
    :math:`\\rho_s = (6/\\pi) \\arcsin(r/2)`, so :math:`r = 2 \\sin(\\pi \\rho_s / 6)`
    (Kruskal 1958).

    Examples
    --------
    >>> l = copula_cholesky(["x", "y"], [Correlation("x", "y", 0.5)])
    >>> round(float((l @ l.T)[0, 1]), 4)
    0.5176
    """
    index = {n: i for i, n in enumerate(names)}
    matrix = np.eye(len(names))
    for c in correlations:
        i, j = index[c.a], index[c.b]
        matrix[i, j] = matrix[j, i] = 2.0 * math.sin(math.pi * c.spearman / 6.0)
    try:
        return np.asarray(np.linalg.cholesky(matrix), dtype=np.float64)
    except np.linalg.LinAlgError:
        raise InvalidParameter(
            f"{where}: the correlations among {', '.join(names)} are inconsistent (the "
            f"matrix is not positive definite); weaken some of them"
        ) from None


def sample_inputs(
    inputs: Mapping[str, Distribution],
    correlations: Sequence[Correlation],
    *,
    n_draws: int,
    rng: np.random.Generator,
    copula: bool = True,
    dtype: type[np.floating[Any]] = np.float32,
) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
    """Draw every input ``n_draws`` times.

    Returns ``(values, normals)``: values by name, an array of shape ``(n_draws,)`` for a
    random input and a Python float for a constant; and the standard-normal variates behind
    each random input (for rank sensitivities). Inputs are drawn in sorted-name order, so a
    seed gives the same draws whatever order a scenario file lists them in.
    """
    random = sorted(n for n, d in inputs.items() if not d.is_constant)
    values: dict[str, Any] = {n: float(d.p50) for n, d in inputs.items() if d.is_constant}
    normals: dict[str, npt.NDArray[Any]] = {}
    if not random:
        return values, normals
    z = rng.standard_normal((len(random), n_draws), dtype=dtype)  # (inputs, draws)
    linked = sorted({n for c in correlations for n in (c.a, c.b) if n in random}) \
        if copula else []
    if linked:
        rows = [random.index(n) for n in linked]
        chol = copula_cholesky(linked, [c for c in correlations
                                        if c.a in linked and c.b in linked])
        z[rows] = (chol.astype(dtype) @ z[rows]).astype(dtype)
    for i, name in enumerate(random):
        spec = INPUTS[name]
        x = inputs[name].from_normal(z[i])
        if math.isfinite(spec.high):
            np.minimum(x, dtype(spec.high), out=x)
        values[name] = x
        normals[name] = z[i]
    return values, normals
