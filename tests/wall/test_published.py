"""The baseline against Epoch AI 2024 and Villalobos et al. 2024."""

from __future__ import annotations

import math
from typing import Any

import pytest

from scalewall.wall import WallResult, data_exhaustion_year, epoch_multiplier, load_scenario
from tests.wall.conftest import published


@pytest.mark.parametrize("case", published("epoch2030"), ids=lambda c: c["constraint"])
def test_epoch2030_constraint_medians(baseline_2030: WallResult, case: dict[str, Any]) -> None:
    median = baseline_2030.year_dict(2030)["constraints"][case["constraint"]]["median"]
    ratio = median / case["median_flop"]
    assert 1 / case["factor"] <= ratio <= case["factor"], (case["source"], median)


def test_epoch2030_overall_and_power_binds_first(baseline_2030: WallResult) -> None:
    d = baseline_2030.year_dict(2030)
    # "about 2e29 FLOP" feasible in 2030 (Epoch 2024), within a factor of 2
    assert 1e29 <= d["feasible_flop"]["median"] <= 4e29
    assert d["trend_flop"] == pytest.approx(3.8e25 * 4.1**6)
    # power binds with the largest probability, and is the first wall the trend crosses
    assert d["binding_constraint"] == "power"
    assert max(d["binding"], key=d["binding"].get) == "power"
    first = baseline_2030.first_binding_years()
    assert first["power"] == min(v for v in first.values() if v is not None)
    assert math.fsum(d["binding"].values()) == pytest.approx(1.0)


def test_epoch2030_intervals(baseline_2030: WallResult) -> None:
    """80% intervals: chips 1e29-5e30, power 2e28-2e30 (Epoch 2024), each end within 2x."""
    c = baseline_2030.year_dict(2030)["constraints"]
    for name, lo, hi in (("chips", 1e29, 5e30), ("power", 2e28, 2e30)):
        assert lo / 2 <= c[name]["p10"] <= lo * 2
        assert hi / 2 <= c[name]["p90"] <= hi * 2


def test_epoch_multiplier_reproduces_reported_3_5_15() -> None:
    """The baseline's epochs are Epoch's multipliers 3 / 5 / 15 inverted through Muennighoff."""
    ep = load_scenario("baseline").inputs["epochs"]
    got = [epoch_multiplier(e) for e in (ep.p10, ep.p50, ep.p90)]
    assert got == pytest.approx([3.0, 5.0, 15.0], abs=1e-3)
    # Muennighoff et al. 2023: 4 epochs are worth 3.73 fresh ones; the ceiling is 1 + R_D*
    assert epoch_multiplier(4) == pytest.approx(3.73, abs=0.005)
    assert epoch_multiplier(1e6) == pytest.approx(16.39, abs=0.01)


def test_epoch_multiplier_agrees_with_laws_package() -> None:
    laws = pytest.importorskip("scalewall.laws")
    for e in (1.0, 2.5, 4.0, 16.0, 40.0):
        assert epoch_multiplier(e) == pytest.approx(
            laws.epoch_multiplier_muennighoff2023(e, r_d_star=15.387756), rel=1e-12)


@pytest.mark.parametrize("case", published("villalobos2024"),
                         ids=lambda c: f"{c['overtraining_factor']:g}x")
def test_villalobos_exhaustion_year(case: dict[str, Any]) -> None:
    r = data_exhaustion_year(overtraining_factor=case["overtraining_factor"], n_draws=100_000)
    # the paper's "2028" is a calendar year: [2028, 2029); allow one year either side
    assert case["year"] - case["tolerance_years"] <= r.median_year \
        < case["year"] + 1 + case["tolerance_years"], case["source"]


def test_villalobos_interval_and_overtraining_shifts() -> None:
    base = data_exhaustion_year(n_draws=100_000)
    # 80% CI 2026-2032 (whole years; one year tolerance at each end)
    assert 2025.0 <= base.p10_year <= 2028.0
    assert 2031.0 <= base.p90_year <= 2034.0
    # 5x overtraining brings it about a year earlier, 100x about three (2028 -> 2027, 2025)
    five = data_exhaustion_year(overtraining_factor=5, n_draws=100_000)
    hundred = data_exhaustion_year(overtraining_factor=100, n_draws=100_000)
    assert base.median_year - five.median_year == pytest.approx(1.0, abs=0.5)
    assert base.median_year - hundred.median_year == pytest.approx(3.0, abs=0.5)
