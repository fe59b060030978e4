from __future__ import annotations

import pytest

from scalewall.footprint import run_footprint


def test_patterson_gpt3_energy_accounting():
    """Patterson et al. 2021, Table 4, GPT-3: 10,000 V100 for 14.8 days at 330 W average system
    power per processor and PUE 1.1 give 1,287 MWh and, at 429 gCO2e/kWh, 552 tCO2e."""
    fp = run_footprint(n_devices=10_000, duration_s=14.8 * 86400, activity=1.0, tdp_w=330.0,
                       idle_w=0.0, host_fraction_of_tdp=0.0, pue=1.1,
                       grid_g_per_j=429 / 3.6e6)
    assert float(fp.energy_j) / 3.6e9 == pytest.approx(1287, rel=0.01)
    assert float(fp.co2_g) / 1e6 == pytest.approx(552, rel=0.01)


def test_power_between_idle_and_tdp_and_costs():
    fp = run_footprint(n_devices=2, duration_s=3600.0, activity=[0.0, 0.5, 1.0, 2.0],
                       tdp_w=700.0, idle_w=100.0, host_fraction_of_tdp=0.0, pue=1.0,
                       grid_g_per_j=0.0, cloud_usd_per_hour=2.0, price_usd=30_000.0,
                       electricity_usd_per_j=0.1 / 3.6e6, hardware_lifetime_s=4 * 365.25 * 86400)
    assert list(fp.device_power_w) == [100.0, 400.0, 700.0, 700.0]
    assert float(fp.rental_cost_usd) == pytest.approx(4.0)
    amortised = 2 * 30_000 / (4 * 365.25 * 24)
    assert float(fp.ownership_cost_usd[2]) == pytest.approx(amortised + 2 * 0.7 * 0.1)
