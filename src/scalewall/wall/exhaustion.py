"""When do training datasets reach the stock of public human text? (Villalobos et al. 2024)

Dataset sizes are projected two ways, each half of the draws, as in the paper's code: the
historical log-linear trend of dataset sizes, and the compute-optimal dataset for projected
frontier compute (D = 20 sqrt(k C / 120) with overtraining factor k). Both grow
exponentially, so the year a draw's dataset reaches its stock has a closed form.

References
----------
.. [1] Villalobos, Ho, Sevilla, Besiroglu, Heim, Hobbhahn 2024, "Will we run out of data?
   Limits of LLM scaling based on human-generated data", ICML 2024, arXiv:2211.04325.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from scalewall._errors import CatalogFileError, InvalidParameter
from scalewall.wall.constraints import CHINCHILLA_TOKENS_PER_PARAM, FLOP_PER_PARAM_TOKEN
from scalewall.wall.scenarios import SCENARIO_DIR

__all__ = ["ExhaustionResult", "data_exhaustion_year", "exhaustion_years"]

_INPUTS = ("stock_tokens", "stock_growth", "largest_dataset_2024_tokens", "dataset_growth",
           "compute_2024_flop", "compute_growth")
_BASE_YEAR = 2024.0  # the code's fits are centred on 2024-01-01


@dataclass(frozen=True)
class ExhaustionResult:
    """Quantiles of the (fractional) year datasets reach the stock."""

    overtraining_factor: float
    p10_year: float
    median_year: float
    p90_year: float
    n_draws: int

    def to_dict(self) -> dict[str, Any]:
        return {"overtraining_factor": self.overtraining_factor, "p10_year": self.p10_year,
                "median_year": self.median_year, "p90_year": self.p90_year,
                "calendar_year": math.floor(self.median_year), "draws": self.n_draws}


def _read(path: Path) -> tuple[dict[str, tuple[float, float, float, float]], float]:
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CatalogFileError(f"{path.name}: cannot read: {exc}") from None
    out = {}
    for name in _INPUTS:
        t = raw.get("inputs", {}).get(name)
        if not isinstance(t, dict):
            raise CatalogFileError(f"{path.name}: [inputs.{name}] is required")
        low, med, high, cov = (float(t[k]) for k in ("low", "median", "high", "coverage"))
        if not 0 < low <= med <= high or not 0 < cov < 1:
            raise CatalogFileError(f"{path.name}: [inputs.{name}] needs 0 < low <= median <= "
                                   f"high and 0 < coverage < 1, got {t!r}")
        out[name] = (low, med, high, cov)
    return out, float(raw["projection"]["historical_share"])


def _z_for_coverage(coverage: float) -> float:
    # inverse normal CDF at (1 + coverage) / 2 by bisection on erf (no scipy)
    target, lo, hi = (1.0 + coverage) / 2.0, 0.0, 10.0
    for _ in range(80):
        mid = (lo + hi) / 2.0
        lo, hi = (mid, hi) if 0.5 * (1.0 + math.erf(mid / math.sqrt(2.0))) < target else (lo, mid)
    return (lo + hi) / 2.0


def _draw(spec: tuple[float, float, float, float], z: npt.NDArray[np.float64]) -> Any:
    low, med, high, cov = spec
    k = _z_for_coverage(cov)
    s_lo, s_hi = math.log(med / low) / k, math.log(high / med) / k
    return np.exp(math.log(med) + z * np.where(z < 0, s_lo, s_hi))


def exhaustion_years(
    *, overtraining_factor: float = 1.0, n_draws: int = 200_000, seed: int | None = 0,
    path: Path | None = None,
) -> npt.NDArray[np.float64]:
    """Fractional calendar year of full stock use, one per draw (inf: never).

    Notes
    -----
    With stock :math:`S_0 g_s^t` and dataset :math:`D_0 g_D^t`:

    .. math:: y = 2024 + \\frac{\\ln S_0 - \\ln D_0}{\\ln g_D - \\ln g_s}

    Historical half: :math:`D_0, g_D` from the trend of dataset sizes. Compute half:
    :math:`D = \\sqrt{20 k C / 6}` (C = 6ND, D = 20kN), so :math:`D_0 = \\sqrt{20 k C_0/6}`,
    :math:`g_D = \\sqrt{g_C}`. Overtraining by k also scales the historical half by
    :math:`\\sqrt{k}` (a k-times overtrained frontier run uses that many more tokens for the
    same compute), which is how the paper's overtraining variants read.
    """
    if not overtraining_factor >= 1.0 or not math.isfinite(overtraining_factor):
        raise InvalidParameter(f"overtraining_factor must be >= 1 (tokens per parameter over "
                               f"20), got {overtraining_factor!r}")
    specs, hist_share = _read(path or SCENARIO_DIR / "villalobos2024.toml")
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((len(_INPUTS), n_draws))
    v = {name: _draw(specs[name], z[i]) for i, name in enumerate(_INPUTS)}
    n_hist = round(hist_share * n_draws)
    ln_k_half = 0.5 * math.log(overtraining_factor)
    ln_d0 = np.empty(n_draws)
    ln_gd = np.empty(n_draws)
    ln_d0[:n_hist] = np.log(v["largest_dataset_2024_tokens"][:n_hist])
    ln_gd[:n_hist] = np.log(v["dataset_growth"][:n_hist])
    tokens_per_flop = CHINCHILLA_TOKENS_PER_PARAM / FLOP_PER_PARAM_TOKEN
    ln_d0[n_hist:] = 0.5 * (math.log(tokens_per_flop) + np.log(v["compute_2024_flop"][n_hist:]))
    ln_gd[n_hist:] = 0.5 * np.log(v["compute_growth"][n_hist:])
    ln_d0 += ln_k_half
    rate = ln_gd - np.log(v["stock_growth"])
    gap = np.log(v["stock_tokens"]) - ln_d0
    with np.errstate(divide="ignore"):
        years = _BASE_YEAR + np.where(rate > 0, gap / rate, np.inf)
    return np.asarray(years, dtype=np.float64)


def data_exhaustion_year(
    *, overtraining_factor: float = 1.0, n_draws: int = 200_000, seed: int | None = 0,
    path: Path | None = None,
) -> ExhaustionResult:
    """Median and 80% interval of the year datasets reach the public text stock [1]_.

    Examples
    --------
    The paper's median is 2028; from its inputs and code this gives early 2029:

    >>> r = data_exhaustion_year(n_draws=50_000)
    >>> round(r.median_year, 1)
    2029.0
    """
    years = exhaustion_years(overtraining_factor=overtraining_factor, n_draws=n_draws,
                             seed=seed, path=path)
    p10, p50, p90 = np.quantile(years, [0.1, 0.5, 0.9])
    return ExhaustionResult(overtraining_factor=overtraining_factor, p10_year=float(p10),
                            median_year=float(p50), p90_year=float(p90), n_draws=n_draws)
