"""Energy, carbon and cost of running devices for a time.

Power per device lies between idle and TDP in proportion to how busy its compute units are;
the host, network and fans add a share of TDP per device; the facility multiplies by its PUE.
Carbon is location-based (energy times the grid's average intensity); cost is rental, or
amortised purchase plus electricity.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from scalewall._types import ArrayLike, FloatArray, as_float, maximum, minimum
from scalewall.units import HOUR_S

__all__ = ["Footprint", "amortised_usd_per_s", "device_power_w", "run_footprint"]


def amortised_usd_per_s(price_usd: float, *, capex_overhead_factor: float,
                        hardware_lifetime_s: float) -> float:
    """Ownership cost of one device per second of its life [USD/s]: the purchase price times
    the server and network overhead, straight-line over the hardware's life (Cottier et al.
    2024, arXiv:2405.21015).

    >>> round(amortised_usd_per_s(30000.0, capex_overhead_factor=1.6,
    ...                           hardware_lifetime_s=4 * 365.25 * 86400) * 3600, 2)  # USD/h
    1.37
    """
    return price_usd * capex_overhead_factor / hardware_lifetime_s


def device_power_w(*, activity: ArrayLike, tdp_w: float, idle_w: float) -> FloatArray:
    """Average power of one device [W]: :math:`P_{idle} + (P_{TDP} - P_{idle}) u`.

    ``activity`` [0-1] is the share of time its compute units are busy. A linear
    utilisation-to-power model as in CodeCarbon's and Zeus's estimators; on one H200, sustained
    GEMMs at the power limit drew 692 of 700 W (shared/validation/README.md).
    """
    u = minimum(maximum(as_float(activity), 0.0), 1.0)
    out: FloatArray = idle_w + (tdp_w - idle_w) * u
    return out


@dataclass(frozen=True)
class Footprint:
    """What a run of ``n_devices`` for ``duration_s`` takes."""

    duration_s: FloatArray
    device_hours: FloatArray
    device_power_w: FloatArray
    it_power_w: FloatArray  # devices plus their hosts
    facility_power_w: FloatArray  # times PUE
    energy_j: FloatArray
    co2_g: FloatArray
    rental_cost_usd: FloatArray | None
    ownership_cost_usd: FloatArray | None  # amortised hardware plus electricity
    electricity_cost_usd: FloatArray | None
    pue: float
    grid_g_per_j: float

    @property
    def cost_usd(self) -> FloatArray | None:
        """The cost the planners report: cloud rental where the catalog has a rate, else
        ownership (amortised price, electricity included); None with neither."""
        return self.rental_cost_usd if self.rental_cost_usd is not None else (
            self.ownership_cost_usd)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = None if v is None else np.asarray(v).tolist()
        return out


def run_footprint(
    *, n_devices: ArrayLike, duration_s: ArrayLike, activity: ArrayLike, tdp_w: float,
    idle_w: float, host_fraction_of_tdp: float, pue: float, grid_g_per_j: float,
    electricity_usd_per_j: float | None = None, cloud_usd_per_hour: float | None = None,
    price_usd: float | None = None, capex_overhead_factor: float = 1.0,
    hardware_lifetime_s: float = 4 * 365.25 * 86400,
) -> Footprint:
    """Energy [J], emissions [gCO2e] and cost [USD] of running ``n_devices`` for ``duration_s``.

    Notes
    -----
    :math:`E = n\\,t\\,(P_{dev} + f_{host} P_{TDP})\\,\\mathrm{PUE}`; :math:`CO_2 = E\\,I_{grid}`
    (location-based, as in Patterson et al. 2021, eq. 1 and the Llama model cards).
    Ownership cost amortises the purchase price (times the server and network overhead)
    linearly over the hardware's life (Cottier et al. 2024) and adds electricity.

    References
    ----------
    .. [1] D. Patterson et al., "Carbon Emissions and Large Neural Network Training", 2021,
       arXiv:2104.10350.
    .. [2] B. Cottier et al., "The rising costs of training frontier AI models", 2024,
       arXiv:2405.21015.

    Examples
    --------
    >>> fp = run_footprint(n_devices=8, duration_s=3600.0, activity=1.0, tdp_w=700.0,
    ...                    idle_w=70.0, host_fraction_of_tdp=0.25, pue=1.1,
    ...                    grid_g_per_j=400 / 3.6e6)
    >>> round(float(fp.energy_j) / 3.6e6, 2)  # kWh: 8 x (700 + 175) W x 1 h x 1.1
    7.7
    """
    n = as_float(n_devices)
    t = as_float(duration_s)
    p_dev = device_power_w(activity=activity, tdp_w=tdp_w, idle_w=idle_w)
    it = n * (p_dev + host_fraction_of_tdp * tdp_w)
    facility = it * pue
    energy = facility * t
    device_hours = n * t / HOUR_S
    elec = None if electricity_usd_per_j is None else energy * electricity_usd_per_j
    rental = None if cloud_usd_per_hour is None else device_hours * cloud_usd_per_hour
    own = None
    if price_usd is not None:
        capex = n * t * amortised_usd_per_s(price_usd, capex_overhead_factor=capex_overhead_factor,
                                            hardware_lifetime_s=hardware_lifetime_s)
        own = capex + (elec if elec is not None else 0.0)
    return Footprint(
        duration_s=t, device_hours=device_hours, device_power_w=p_dev, it_power_w=it,
        facility_power_w=facility, energy_j=energy, co2_g=energy * grid_g_per_j,
        rental_cost_usd=rental, ownership_cost_usd=own, electricity_cost_usd=elec, pue=pue,
        grid_g_per_j=grid_g_per_j,
    )
